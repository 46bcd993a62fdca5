"""What text that names or labels people and things may hold: the one place that decides, used by
the services that store usernames, display names, signatures, group titles, buddy-group names,
red-packet greetings and transfer memos (HTTP, the website and the socket all go through them).

A name identifies a person, and the others are shown next to names (a memo on a statement, a
greeting on a card): an impersonator must not be able to look like someone else, nor text be able
to reorder the page around it. So, in names and labels (400 `invalid` naming the field):

- bidi controls (U+061C, U+200E/U+200F, U+202A-U+202E, U+2066-U+2069) are refused: they reorder
  what follows them ("evil<RLO>gpj.exe");
- zero-width and other invisible format characters (category Cf: U+200B, U+2060, U+FEFF, the soft
  hyphen, ...), control characters (category Cc; a line break or tab only where a field says it is
  multi-line: none does today), line/paragraph separators and the blank "letters" (Hangul fillers,
  the blank Braille pattern, ...) are refused: they make two names that look the same differ;
- except where they do real work: a zero-width joiner between two emoji (a family, a rainbow flag,
  a profession with a skin tone) and a joiner or non-joiner between two letters of a script that
  uses them (Arabic, Persian, the Indic scripts), and the tag characters of a flag sequence
  (England, Scotland, Wales);
- more than MAX_COMBINING_MARKS combining marks in a row ("Zalgo" text that spills over the lines
  around it) are refused, as is a name with no visible character at all.

Usernames (the login name, unique ignoring case) are also normalised to NFKC ("alice" typed in
full-width letters is "alice", as Django's own forms do), may not mix Latin letters with Cyrillic
or Greek ones that look like Latin letters ("alice" with a Cyrillic a), and a name whose look-alike
skeleton (CONFUSABLE_LATIN, casefolded) is an existing username is taken. The table is the common
Cyrillic and Greek homoglyphs of Latin letters, not Unicode's full confusables list: see
`username_skeleton`.

Message bodies keep what the user typed (escape on output): the chat page isolates every name and
body (`unicode-bidi: plaintext` in static/css/chat.css, as `dir="auto"` does) so their bidi
controls stay inside them.
"""

import re
import unicodedata

from django.utils.translation import gettext_noop

from core.exceptions import InvalidInput

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
ZERO_WIDTH_JOINER = "\u200d"
ZERO_WIDTH_NON_JOINER = "\u200c"
# Letters and symbols that draw nothing (not category Cf, so named here).
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u2800")
MAX_COMBINING_MARKS = 4

# Scripts in which a joiner or non-joiner between two letters changes how they are drawn.
JOINING_SCRIPTS = (
    (0x0600, 0x06FF),  # Arabic (Persian, Urdu, ...)
    (0x0700, 0x074F),  # Syriac
    (0x0750, 0x077F),  # Arabic Supplement
    (0x08A0, 0x08FF),  # Arabic Extended-A
    (0x0900, 0x0DFF),  # Devanagari ... Sinhala
    (0xFB50, 0xFDFF),  # Arabic Presentation Forms-A
    (0xFE70, 0xFEFC),  # Arabic Presentation Forms-B
)
EMOJI_MODIFIERS = frozenset([*map(chr, range(0x1F3FB, 0x1F400)), "\ufe0f"])  # skin tones, VS16
FLAG_TAG_SEQUENCE = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")

BIDI_MESSAGE = gettext_noop("Text may not contain direction controls (such as U+202E).")
INVISIBLE_MESSAGE = gettext_noop("Text may not contain invisible characters (such as U+200B).")
CONTROL_MESSAGE = gettext_noop("Text may not contain control characters or line breaks.")
MARKS_MESSAGE = gettext_noop("Too many accents on one character.")
BLANK_MESSAGE = gettext_noop("This field needs a visible character.")
MIXED_SCRIPT_MESSAGE = gettext_noop(
    "A username may not mix Latin letters with look-alike letters of other scripts."
)
USERNAME_TAKEN_MESSAGE = gettext_noop("This username is already taken.")

# Cyrillic and Greek letters drawn like a Latin letter (from Unicode's confusables.txt, the common
# ones). Keys are looked up before casefolding, so capitals map to capitals.
CONFUSABLE_LATIN = str.maketrans(
    {
        # Cyrillic
        "\u0410": "A", "\u0412": "B", "\u0415": "E", "\u041a": "K", "\u041c": "M", "\u041d": "H",
        "\u041e": "O", "\u0420": "P", "\u0421": "C", "\u0422": "T", "\u0423": "Y", "\u0425": "X",
        "\u0405": "S", "\u0406": "I", "\u0408": "J", "\u051a": "Q", "\u051c": "W", "\u04ae": "Y",
        "\u0430": "a", "\u0435": "e", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0443": "y",
        "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0458": "j", "\u0501": "d", "\u04bb": "h",
        "\u04cf": "l", "\u051b": "q", "\u051d": "w", "\u04af": "y",
        # Greek
        "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
        "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
        "\u03a5": "Y", "\u03a7": "X", "\u03bf": "o", "\u03bd": "v", "\u03c1": "p", "\u03b9": "i",
        "\u03b1": "a", "\u03c5": "u", "\u03ba": "k",
    }
)  # fmt: skip


def _in_joining_script(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in JOINING_SCRIPTS)


def _joiner_does_work(text: str, index: int) -> bool:
    """A ZWJ/ZWNJ at `index` joins two emoji (ZWJ only) or two letters of a joining script."""
    if index == 0 or index + 1 >= len(text):
        return False
    before, after = text[index - 1], text[index + 1]
    if _in_joining_script(before) and _in_joining_script(after):
        return True
    if text[index] != ZERO_WIDTH_JOINER:
        return False
    base = index - 1
    while base > 0 and text[base] in EMOJI_MODIFIERS:
        base -= 1
    return unicodedata.category(text[base]) == "So" and unicodedata.category(after) == "So"


def name_problem(text: str, *, multiline: bool = False) -> str | None:
    """Why `text` may not name or label anything (see the module's docstring), else None."""
    flag_tags = {
        i for match in FLAG_TAG_SEQUENCE.finditer(text) for i in range(match.start() + 1, match.end())
    }
    marks_in_a_row = 0
    visible = False
    for index, char in enumerate(text):
        category = unicodedata.category(char)
        if category in ("Mn", "Me"):
            marks_in_a_row += 1
            if marks_in_a_row > MAX_COMBINING_MARKS:
                return MARKS_MESSAGE
            continue
        marks_in_a_row = 0
        if char in BIDI_CONTROLS:
            return BIDI_MESSAGE
        if char in (ZERO_WIDTH_JOINER, ZERO_WIDTH_NON_JOINER):
            if not _joiner_does_work(text, index):
                return INVISIBLE_MESSAGE
        elif category == "Cf":
            if index not in flag_tags:
                return INVISIBLE_MESSAGE
        elif category == "Cc":
            if not (multiline and char in "\n\t"):
                return CONTROL_MESSAGE
        elif category in ("Zl", "Zp"):
            return CONTROL_MESSAGE
        elif char in BLANK_LETTERS:
            return INVISIBLE_MESSAGE
        elif category[0] not in "ZC":
            visible = True
    if text and not visible:
        return BLANK_MESSAGE
    return None


def check_name(field: str, text: str, *, multiline: bool = False) -> str:
    """`text` unchanged if it may name or label something; else InvalidInput naming `field`."""
    problem = name_problem(text, multiline=multiline)
    if problem is not None:
        raise InvalidInput(problem, fields={field: [problem]})
    return text


def _script_of_letter(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0]


def username_normalize(username: str) -> str:
    """NFKC, as Django's `AbstractBaseUser.normalize_username`: what is stored and looked up."""
    return unicodedata.normalize("NFKC", username)


def username_skeleton(username: str) -> str:
    """What a username looks like: NFKC, look-alike Cyrillic and Greek letters as the Latin ones
    they imitate, casefolded. Two usernames with one skeleton look the same."""
    return username_normalize(username).translate(CONFUSABLE_LATIN).casefold()


def username_problem(username: str) -> str | None:
    """Why a (normalised) username would pass for another script's name, else None: Latin letters
    next to a Cyrillic or Greek letter drawn like a Latin one (a Cyrillic a in "alice")."""
    scripts = {_script_of_letter(char) for char in username if char.isalpha()}
    look_alike = any(char.translate(CONFUSABLE_LATIN) != char for char in username)
    if "LATIN" in scripts and scripts & {"CYRILLIC", "GREEK"} and look_alike:
        return MIXED_SCRIPT_MESSAGE
    return name_problem(username)
