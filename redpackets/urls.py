"""Red-packet API routes (CONTRACT section 6)."""

from core.routes import api_path
from redpackets import apis

urlpatterns = [
    *api_path(
        "conversations/<id:conversation_id>/red-packets", apis.RedPacketSendApi.as_view(), "red-packet-send"
    ),
    *api_path("red-packets/<id:red_packet_id>", apis.RedPacketDetailApi.as_view(), "red-packet-detail"),
    *api_path("red-packets/<id:red_packet_id>/claim", apis.RedPacketClaimApi.as_view(), "red-packet-claim"),
]
