"""The store's catalog for `manage.py seed_demo` (always, also with DEBUG off: CONTRACT section 1).

Idempotent: items are found by sku and stickers by (pack, name); a missing one is created, an
existing one is left as operators edited it in the admin. Images are the SVG files shipped under
static/store/.
"""

from store.models import Item, Sticker

# (sku, name, kind, price, description, image, colour)
ITEMS = [
    (
        "stickers-faces",
        "Happy Faces",
        Item.Kind.STICKER_PACK,
        30,
        "Eight faces for every mood.",
        "store/pack-faces.svg",
        "",
    ),
    (
        "stickers-animals",
        "Cute Animals",
        Item.Kind.STICKER_PACK,
        50,
        "A cat, a dog, a panda and a rabbit.",
        "store/pack-animals.svg",
        "",
    ),
    (
        "bubble-ocean",
        "Ocean bubble",
        Item.Kind.BUBBLE,
        60,
        "Your messages in deep-sea blue.",
        "store/bubble-ocean.svg",
        "#3b82f6",
    ),
    (
        "bubble-sakura",
        "Sakura bubble",
        Item.Kind.BUBBLE,
        60,
        "Cherry-blossom pink messages.",
        "store/bubble-sakura.svg",
        "#f472b6",
    ),
    (
        "bubble-gold",
        "Golden bubble",
        Item.Kind.BUBBLE,
        120,
        "Messages that shine.",
        "store/bubble-gold.svg",
        "#f59e0b",
    ),
    (
        "name-crimson",
        "Crimson name",
        Item.Kind.NAME_COLOR,
        40,
        "Your name in crimson.",
        "store/name-crimson.svg",
        "#dc2626",
    ),
    (
        "name-emerald",
        "Emerald name",
        Item.Kind.NAME_COLOR,
        40,
        "Your name in emerald green.",
        "store/name-emerald.svg",
        "#059669",
    ),
    (
        "name-violet",
        "Violet name",
        Item.Kind.NAME_COLOR,
        40,
        "Your name in violet.",
        "store/name-violet.svg",
        "#7c3aed",
    ),
    (
        "vip-month",
        "VIP membership",
        Item.Kind.VIP,
        300,
        "30 days of VIP with a badge by your name; renews itself until you switch it off.",
        "store/vip-badge.svg",
        "",
    ),
    ("gift-rose", "Rose", Item.Kind.GIFT, 5, "A single red rose.", "store/gift-rose.svg", ""),
    ("gift-heart", "Heart", Item.Kind.GIFT, 10, "Say it with a heart.", "store/gift-heart.svg", ""),
    (
        "gift-flowers",
        "Flowers",
        Item.Kind.GIFT,
        20,
        "A bunch of bright flowers.",
        "store/gift-flowers.svg",
        "",
    ),
    (
        "gift-cake",
        "Birthday cake",
        Item.Kind.GIFT,
        50,
        "For a birthday, or any day.",
        "store/gift-cake.svg",
        "",
    ),
]

STICKERS = {
    "stickers-faces": ["smile", "laugh", "wink", "love", "cry", "angry", "cool", "sleepy"],
    "stickers-animals": ["cat", "dog", "panda", "rabbit"],
}


def seed_store_catalog() -> None:
    """Create the catalog's missing items and stickers (also in production)."""
    for position, (sku, name, kind, price, description, image, color) in enumerate(ITEMS):
        item, _ = Item.objects.get_or_create(
            sku=sku,
            defaults={
                "name": name,
                "kind": kind,
                "price": price,
                "description": description,
                "image": image,
                "color": color,
                "position": position,
            },
        )
        for sticker_position, sticker in enumerate(STICKERS.get(sku, [])):
            Sticker.objects.get_or_create(
                pack=item,
                name=sticker,
                defaults={"image": f"store/stickers/{sticker}.svg", "position": sticker_position},
            )
