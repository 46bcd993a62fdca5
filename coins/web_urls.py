from django.urls import path

from coins import web

urlpatterns = [
    path("wallet/", web.wallet_page, name="wallet"),
    path("wallet/topups/", web.topup_buy, name="wallet-topup-buy"),
    path("pay/sandbox/<id:topup_id>/", web.sandbox_checkout, name="sandbox-checkout"),
]
