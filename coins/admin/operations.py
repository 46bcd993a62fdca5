"""Reconciliation runs and the operators' audit log in the admin, read-only. Operators with
`coins.add_reconciliationrun` may start a run from the list (it goes to the Celery worker)."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST
from kombu.exceptions import OperationalError as KombuOperationalError

from coins.admin.base import ReadOnlyAdmin, ReadOnlyTabularInline, as_int
from coins.models import OperatorAction, ReconciliationFinding, ReconciliationRun
from coins.tasks import reconcile_ledger
from core.degraded import SWEPT_DISPATCH_RETRY, UNREACHABLE_ERRORS


class FindingInline(ReadOnlyTabularInline):
    model = ReconciliationFinding
    fields = ("kind", "detail", "account_id_ref", "transaction_id_ref")
    readonly_fields = fields
    show_change_link = False


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "finished_at", "triggered_by", "ok", "finding_count")
    list_filter = ("ok", "triggered_by")
    date_hierarchy = "started_at"
    inlines = [FindingInline]
    readonly_fields = ("started_at", "finished_at", "ok", "triggered_by", "summary")
    fields = readonly_fields
    change_list_template = "admin/coins/reconciliationrun/change_list.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReconciliationRun]:
        return super().get_queryset(request).annotate(finding_count=Count("findings"))

    @admin.display(description="findings", ordering="finding_count")
    def finding_count(self, run: ReconciliationRun) -> int:
        return run.finding_count  # type: ignore[attr-defined]

    def get_urls(self) -> list:
        start = require_POST(self.admin_site.admin_view(self.start_view))
        return [path("start/", start, name="coins_reconciliation_start"), *super().get_urls()]

    def start_view(self, request: HttpRequest) -> HttpResponseRedirect:
        if not request.user.has_perm("coins.add_reconciliationrun"):
            raise PermissionDenied
        try:
            reconcile_ledger.apply_async(
                kwargs={"triggered_by": f"admin:{request.user.number}"}, retry_policy=SWEPT_DISPATCH_RETRY
            )
        except (KombuOperationalError, *UNREACHABLE_ERRORS):  # the broker (Redis) is down: nothing started
            self.message_user(
                request,
                "Could not start a reconciliation: the task queue is down. Try again later.",
                messages.ERROR,
            )
        else:
            self.message_user(request, "Reconciliation started; it appears here when done.", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:coins_reconciliationrun_changelist"))


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "created_at",
        "operator",
        "action",
        "reason",
        "target_transaction",
        "result_transaction",
    )
    list_filter = ("action",)
    date_hierarchy = "created_at"
    search_fields = ("reason",)
    search_help_text = "Operator's account number, a transaction id, or words of the reason."
    list_select_related = ("operator", "target_transaction", "result_transaction")
    readonly_fields = (
        "operator",
        "action",
        "reason",
        "target_transaction",
        "result_transaction",
        "details",
        "created_at",
    )
    fields = readonly_fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OperatorAction], search_term: str
    ) -> tuple[QuerySet[OperatorAction], bool]:
        queryset, duplicates = super().get_search_results(request, queryset, search_term)
        number = as_int(search_term)
        if number is not None:
            queryset |= (
                self.model.objects.filter(operator__number=number)
                | self.model.objects.filter(target_transaction_id=number)
                | self.model.objects.filter(result_transaction_id=number)
            )
        return queryset, duplicates
