from coins import apis
from coins.payments import webhooks
from core.routes import api_path

urlpatterns = [
    *api_path("coins/wallet", apis.WalletApi.as_view(), "coins-wallet"),
    *api_path("coins/transactions", apis.StatementApi.as_view(), "coins-transactions"),
    *api_path("coins/packages", apis.PackageListApi.as_view(), "coins-packages"),
    *api_path("coins/topups", apis.TopupListCreateApi.as_view(), "coins-topups"),
    *api_path("coins/topups/<id:topup_id>", apis.TopupDetailApi.as_view(), "coins-topup-detail"),
    *api_path("coins/transfers", apis.TransferCreateApi.as_view(), "coins-transfers"),
    *api_path("payments/webhook/<slug:provider_name>", webhooks.payment_webhook, "payments-webhook"),
]
