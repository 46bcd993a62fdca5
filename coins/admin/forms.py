"""Forms of the operators' actions: every action that changes the ledger asks for a reason."""

import uuid

from django import forms
from django.conf import settings

from accounts.models import User
from core.admin_forms import ReasonForm


class GrantForm(ReasonForm):
    """Promotional coins for one person, named by account number. `token` makes a resubmitted
    form (a double click, the back button) grant once."""

    number = forms.IntegerField(label="Account number", min_value=1)
    amount = forms.IntegerField(min_value=1, max_value=settings.MAX_TRANSFER_COINS, help_text="Whole coins.")
    token = forms.CharField(widget=forms.HiddenInput, initial=lambda: uuid.uuid4().hex, max_length=64)

    field_order = ["number", "amount", "reason", "token"]

    def clean_number(self) -> int:
        number = self.cleaned_data["number"]
        user = User.objects.filter(number=number).first()
        if user is None:
            raise forms.ValidationError("No one has this account number.")
        self.user = user
        return number
