"""Forms shared by the operators' actions in every app's admin."""

from django import forms


class ReasonForm(forms.Form):
    """Every action that changes the ledger (a reversal, a grant, a store refund) asks for a reason,
    kept in the operators' audit log."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Required: why. It is kept in the operators' audit log.",
    )

    def clean_reason(self) -> str:
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason
