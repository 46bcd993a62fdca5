from django.urls import path

from store import web

urlpatterns = [
    path("store/", web.store_page, name="store"),
    path("store/buy/", web.store_buy, name="store-buy"),
    path("store/vip/", web.store_vip, name="store-vip"),
]
