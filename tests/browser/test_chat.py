"""The chat page in real browsers, person by person: becoming friends and chatting live (one of them
on a phone), a group of three, edits and recalls, read receipts, and text that looks like HTML."""

import pytest
from playwright.sync_api import Page, expect

from messaging.conversations import conversation_direct_open, conversation_group_create
from messaging.services import message_send
from tests.browser.pages import conversation_button, message_items, messages, open_conversation, send
from tests.factories import UserFactory, make_friends

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]

XSS = "<img src=x onerror=alert(1)>"
GROUP_XSS = "<b onmouseover=alert(2)>Hikers</b><script>alert(3)</script>"


def pane_heading(page: Page, title: str):
    return page.get_by_role("heading", name=title, level=2, exact=True)


def recalled_items(page: Page):
    return messages(page).get_by_role("listitem").filter(has_text="Message recalled")


def test_two_people_become_friends_and_chat_live_one_on_a_phone(people):
    # given two strangers, Alice at a desk and Bob on his phone, both logged in through the form
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    alice_page = people.open(alice, through_login_form=True)
    bob_page = people.open(bob, phone=True, through_login_form=True)

    # when Alice finds Bob by his number and asks to be friends
    alice_page.get_by_role("searchbox", name="Search people").fill(str(bob.number))
    alice_page.get_by_role("searchbox", name="Search people").press("Enter")
    found = alice_page.get_by_role("list", name="Search results").get_by_role("listitem")
    expect(found).to_have_count(1)
    expect(found).to_contain_text("Bob")
    found.get_by_role("button", name="Add friend").click()
    expect(found).to_contain_text("Request sent")

    # then Bob sees the request live and accepts it
    request = bob_page.get_by_role("list", name="Friend requests").get_by_role("listitem")
    expect(request).to_contain_text("Alice")
    request.get_by_role("button", name="Accept").click()
    expect(bob_page.get_by_role("button", name="Chat with Alice")).to_be_visible()

    # and Alice sees Bob among her friends, live, and writes to him
    alice_page.get_by_role("button", name="Chat with Bob").click()
    expect(pane_heading(alice_page, "Bob")).to_be_visible()
    send(alice_page, "Hello Bob, 你好!")

    # Bob's phone shows the conversation in his list; he opens it and answers
    open_conversation(bob_page, "Alice")
    expect(message_items(bob_page, "Hello Bob, 你好!")).to_have_count(1)
    expect(conversation_button(bob_page, "Alice")).not_to_be_visible()  # the list is hidden on a phone
    send(bob_page, "Hi Alice! 👋")
    expect(message_items(alice_page, "Hi Alice! 👋")).to_have_count(1)
    send(alice_page, "Lunch at noon?")
    expect(message_items(bob_page, "Lunch at noon?")).to_have_count(1)

    # "Back" returns Bob's phone to the list
    bob_page.get_by_role("button", name="Back").click()
    expect(conversation_button(bob_page, "Alice")).to_be_visible()
    expect(pane_heading(bob_page, "Alice")).not_to_be_visible()
    # on a desk both are visible at once
    expect(conversation_button(alice_page, "Bob")).to_be_visible()
    expect(pane_heading(alice_page, "Bob")).to_be_visible()


def test_on_a_phone_the_composer_shows_a_whole_line(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    page = people.open(alice, phone=True)
    open_conversation(page, "Bob")
    composer = page.get_by_role("textbox", name="Message")
    expect(composer).to_be_visible()
    height = composer.evaluate("(box) => [box.clientHeight, box.scrollHeight]")
    assert height[0] >= height[1], f"the composer is {height[0]} px high, its line needs {height[1]} px"


def test_a_group_of_three_is_created_and_everyone_sees_every_message_live(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    carol = UserFactory(username="carol", display_name="Carol")
    make_friends(alice, bob)
    make_friends(alice, carol)
    alice_page, bob_page, carol_page = (people.open(user) for user in (alice, bob, carol))

    # when Alice makes a group with both her friends
    alice_page.get_by_role("button", name="New group").click()
    dialog = alice_page.get_by_role("dialog", name="New group")
    dialog.get_by_role("textbox", name="Group name").fill("Hikers 徒步")
    dialog.get_by_role("checkbox", name="Bob").check()
    dialog.get_by_role("checkbox", name="Carol").check()
    dialog.get_by_role("button", name="Create").click()
    expect(dialog).to_have_count(0)
    expect(pane_heading(alice_page, "Hikers 徒步")).to_be_visible()

    # then it appears live for Bob and Carol, and whatever one says the other two see
    open_conversation(bob_page, "Hikers 徒步")
    open_conversation(carol_page, "Hikers 徒步")
    pages = {"Alice": alice_page, "Bob": bob_page, "Carol": carol_page}
    for name, page in pages.items():
        text = f"{name} says hi to the group"
        send(page, text)
        for other in pages.values():
            if other is not page:
                said = message_items(other, text)
                expect(said).to_have_count(1)
                expect(said).to_contain_text(name)  # the sender's name on others' messages
    for page in pages.values():
        expect(messages(page).get_by_role("listitem").filter(has_text="says hi to the group")).to_have_count(
            3
        )


def test_an_edit_and_a_recall_are_seen_live_by_the_other_person(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    alice_page, bob_page = people.open(alice), people.open(bob)
    open_conversation(alice_page, "Bob")
    open_conversation(bob_page, "Alice")
    send(alice_page, "Meet at 5")
    expect(message_items(bob_page, "Meet at 5")).to_have_count(1)

    # when Alice edits it
    message_items(alice_page, "Meet at 5").get_by_role("button", name="Message actions").click()
    alice_page.get_by_role("menu").get_by_role("menuitem", name="Edit").click()
    alice_page.get_by_role("textbox", name="Edit message").fill("Meet at 6")
    alice_page.get_by_role("button", name="Save").click()

    # then Bob sees the new text, marked edited, in place of the old
    edited = message_items(bob_page, "Meet at 6")
    expect(edited).to_have_count(1)
    expect(edited).to_contain_text("(edited)")
    expect(message_items(bob_page, "Meet at 5")).to_have_count(0)
    expect(message_items(alice_page, "Meet at 6")).to_contain_text("(edited)")

    # when Alice recalls it, Bob sees that it was recalled and no longer what it said
    message_items(alice_page, "Meet at 6").get_by_role("button", name="Message actions").click()
    alice_page.get_by_role("menu").get_by_role("menuitem", name="Recall").click()
    confirm, recalled = alice_page.get_by_role("dialog"), recalled_items(alice_page)
    expect(confirm.or_(recalled).first).to_be_visible()
    if confirm.is_visible():  # the page asks first
        confirm.get_by_role("button", name="Recall").click()
    expect(recalled_items(bob_page)).to_have_count(1)
    expect(messages(bob_page)).not_to_contain_text("Meet at 6")
    expect(recalled).to_have_count(1)


def test_alice_sees_read_when_bob_opens_the_conversation(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    alice_page, bob_page = people.open(alice), people.open(bob)
    open_conversation(alice_page, "Bob")
    send(alice_page, "Are you there?")
    mine = message_items(alice_page, "Are you there?")
    unread = conversation_button(bob_page, "Alice")
    expect(unread).to_contain_text("1 unread")
    expect(alice_page.get_by_text("Read", exact=True)).to_have_count(0)

    # when Bob opens the conversation
    open_conversation(bob_page, "Alice")

    # then Alice sees "Read" under her message, live
    expect(mine.get_by_text("Read", exact=True)).to_be_visible()
    expect(conversation_button(bob_page, "Alice")).not_to_contain_text("unread")


def test_an_open_actions_menu_stays_open_when_the_message_is_read(people):
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    conversation_direct_open(user=alice, number=bob.number)
    alice_page, bob_page = people.open(alice), people.open(bob)
    open_conversation(alice_page, "Bob")
    send(alice_page, "Lunch?")
    mine = message_items(alice_page, "Lunch?")
    # given: Alice has her message's actions menu open
    mine.get_by_role("button", name="Message actions").click()
    menu = alice_page.get_by_role("menu")
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_focused()

    # when Bob reads it (the message is redrawn with "Read" under it)
    open_conversation(bob_page, "Alice")
    expect(mine.get_by_text("Read", exact=True)).to_be_visible()

    # then the menu is still open, and what Alice picks in it works
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_focused()
    menu.get_by_role("menuitem", name="Edit").click()
    expect(alice_page.get_by_role("textbox", name="Edit message")).to_be_visible()


def test_a_conversation_opened_from_its_address_is_read(people):
    # /#conversation-N opens that conversation as the page loads: what it shows is read, so its
    # unread count goes and the tab's title has no count (tried a few times: a race showed it)
    alice = UserFactory(username="alice", display_name="Alice")
    bob = UserFactory(username="bob", display_name="Bob")
    make_friends(alice, bob)
    direct, _ = conversation_direct_open(user=alice, number=bob.number)
    for attempt in range(3):
        message_send(sender=bob, conversation_id=direct.pk, body=f"Knock knock {attempt}")
        message_send(sender=bob, conversation_id=direct.pk, body=f"Anyone home? {attempt}")
        page = people.open(alice, path=f"/#conversation-{direct.pk}")
        expect(message_items(page, f"Anyone home? {attempt}")).to_be_visible()
        expect(conversation_button(page, "Bob")).not_to_contain_text("unread")
        expect(page).to_have_title("Huddle")
        page.context.close()


def test_text_that_looks_like_html_is_shown_as_text(people):
    # Mallory's display name, a group's title and message bodies are all HTML injection attempts
    mallory = UserFactory(username="mallory", display_name=XSS)
    alice = UserFactory(username="alice", display_name="Alice")
    make_friends(alice, mallory)
    direct, _ = conversation_direct_open(user=alice, number=mallory.number)
    group = conversation_group_create(user=mallory, title=GROUP_XSS, member_numbers=[alice.number])
    message_send(sender=mallory, conversation_id=direct.pk, body=XSS)
    message_send(sender=mallory, conversation_id=group.pk, body=XSS)
    alice_page = people.open(alice)
    mallory_page = people.open(mallory)

    # then Alice sees them all as the text they are: in her lists, the pane's title and the bubbles
    expect(alice_page.get_by_role("button", name=f"Chat with {XSS}")).to_be_visible()
    open_conversation(alice_page, GROUP_XSS)
    in_group = message_items(alice_page, XSS)
    expect(in_group).to_have_count(1)
    expect(in_group.get_by_text(XSS, exact=True)).to_have_count(2)  # the author's name and the body
    open_conversation(alice_page, XSS)
    expect(message_items(alice_page, XSS)).to_have_count(1)

    # typed live it is text too, for the one who types it and for the one who reads it
    open_conversation(mallory_page, "Alice")
    send(mallory_page, XSS + " again")
    expect(message_items(alice_page, XSS + " again")).to_have_count(1)
    for page in (alice_page, mallory_page):
        expect(page.locator('img[src="x"]')).to_have_count(0)
        expect(page.locator("b[onmouseover]")).to_have_count(0)
    # and no alert() ran: `people` fails the test on any JavaScript dialog or console error
