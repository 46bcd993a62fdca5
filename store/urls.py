"""Store API routes (CONTRACT section 6)."""

from core.routes import api_path
from store import apis

urlpatterns = [
    *api_path("store/items", apis.ItemListApi.as_view(), "store-items"),
    *api_path("store/purchases", apis.PurchaseListCreateApi.as_view(), "store-purchases"),
    *api_path("store/inventory", apis.InventoryApi.as_view(), "store-inventory"),
    *api_path("store/vip", apis.VipApi.as_view(), "store-vip"),
    *api_path("store/style", apis.StyleApi.as_view(), "store-style"),
    *api_path("conversations/<id:conversation_id>/gifts", apis.GiftSendApi.as_view(), "store-gift-send"),
]
