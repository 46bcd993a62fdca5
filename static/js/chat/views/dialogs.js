// Modal dialogs (<dialog>): new group, edit a message, confirm, and a group's members and settings.
import * as actions from "../actions.js";
import { api, post } from "../api.js";
import { el } from "../dom.js";
import { gettext, interpolate } from "../i18n.js";
import * as store from "../store.js";
import { avatar } from "./common.js";

const { state } = store;
let counter = 0;

// A dialog with a heading, a body and a close button; removed from the page when closed.
// `label` is the dialog's accessible name when it differs from the visible title.
function openDialog(title, build, label = null) {
  counter += 1;
  const headingId = `dialog-title-${counter}`;
  const dialog = el("dialog", { class: "chat-dialog", "aria-labelledby": label ? null : headingId, "aria-label": label });
  const error = el("p", { class: "dialog-error", role: "alert" });
  const close = () => dialog.close();
  const body = el("div", { class: "dialog-body" });
  dialog.append(
    el(
      "div",
      { class: "dialog-head" },
      el("h2", { id: headingId }, title),
      el("button", { type: "button", class: "icon-button", "aria-label": gettext("Close"), onclick: close }, "✕"),
    ),
    error,
    body,
  );
  const context = {
    dialog,
    body,
    close,
    showError(message) {
      error.textContent = message || "";
    },
  };
  build(context);
  dialog.addEventListener("close", () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return context;
}

function fieldErrors(error) {
  if (!error.fields) return error.message;
  return [error.message, ...Object.values(error.fields).flat()].join(" ");
}

export function confirmDialog({ title, text, confirmLabel, danger = false }) {
  return new Promise((resolve) => {
    let answer = false;
    const context = openDialog(title, ({ body, close }) => {
      body.append(
        el("p", {}, text),
        el(
          "div",
          { class: "dialog-actions" },
          el("button", { type: "button", class: "secondary", onclick: close }, gettext("Cancel")),
          el("button", { type: "button", class: danger ? "danger" : "", onclick: () => { answer = true; close(); } }, confirmLabel),
        ),
      );
    });
    context.dialog.addEventListener("close", () => resolve(answer));
  });
}

export function editDialog(message) {
  openDialog(gettext("Edit message"), ({ body, close, showError }) => {
    const textarea = el("textarea", { id: "edit-body", rows: 4, maxlength: state.bodyMax || 4000, required: true });
    textarea.value = message.body;
    const form = el(
      "form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          const text = textarea.value;
          if (!text.trim()) {
            showError(gettext("A message cannot be empty."));
            return;
          }
          try {
            await actions.editMessage(message.id, text);
            close();
          } catch (error) {
            showError(fieldErrors(error));
          }
        },
      },
      el("label", { htmlFor: "edit-body" }, gettext("Edit message")),
      textarea,
      el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "secondary", onclick: close }, gettext("Cancel")), el("button", { type: "submit" }, gettext("Save"))),
    );
    body.append(form);
  });
}

// Checkboxes for friends (all, or those not excluded).
function friendPicker(legend, exclude = new Set()) {
  const friends = [...state.friends.values()]
    .filter((friend) => !exclude.has(friend.user.number))
    .sort((a, b) => a.user.display_name.localeCompare(b.user.display_name));
  const fieldset = el("fieldset", { class: "friend-picker" }, el("legend", {}, legend));
  if (!friends.length) fieldset.append(el("p", { class: "muted" }, gettext("No friends to add.")));
  for (const friend of friends) {
    const id = `pick-${counter}-${friend.user.number}`;
    fieldset.append(
      el(
        "div",
        { class: "pick" },
        el("input", { type: "checkbox", id, value: String(friend.user.number) }),
        avatar(friend.user.number),
        el("label", { htmlFor: id }, friend.user.display_name),
        el("small", { class: "muted" }, `#${friend.user.number}`),
      ),
    );
  }
  const chosen = () => [...fieldset.querySelectorAll("input:checked")].map((input) => Number(input.value));
  return { fieldset, chosen };
}

export function newGroupDialog() {
  openDialog(gettext("New group"), ({ body, close, showError }) => {
    const title = el("input", { type: "text", id: "group-title", maxlength: 100, required: true, autocomplete: "off" });
    const picker = friendPicker(gettext("Members"));
    body.append(
      el(
        "form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            if (!title.value.trim()) {
              showError(gettext("Give the group a name."));
              return;
            }
            try {
              const conversation = await post("conversations", { kind: "group", title: title.value.trim(), members: picker.chosen() });
              store.upsertConversation(conversation);
              close();
              actions.openConversation(conversation.id);
              store.emit("show-pane");
            } catch (error) {
              showError(fieldErrors(error));
            }
          },
        },
        el("div", { class: "field" }, el("label", { htmlFor: "group-title" }, gettext("Group name")), title),
        picker.fieldset,
        el("div", { class: "dialog-actions" }, el("button", { type: "button", class: "secondary", onclick: close }, gettext("Cancel")), el("button", { type: "submit" }, gettext("Create"))),
      ),
    );
  });
}

function roleLabel(role) {
  return { owner: gettext("Owner"), admin: gettext("Admin"), member: gettext("Member") }[role] || role;
}
export { roleLabel };

// Members of a conversation; for groups, what the caller's role allows: rename, add, remove,
// roles (owner only), leave.
export function membersDialog(conversationId) {
  const conversation = state.conversations.get(conversationId);
  if (!conversation) return;
  openDialog(gettext("Members"), (context) => {
    const { body, showError } = context;
    const render = async () => {
      let members;
      try {
        members = await actions.loadMembers(conversationId);
      } catch (error) {
        showError(error.message);
        return;
      }
      const current = state.conversations.get(conversationId);
      if (!current) {
        context.close();
        return;
      }
      const mine = members.find((member) => member.user.number === state.me.number);
      const myRole = mine ? mine.role : current.my_role;
      current.my_role = myRole;
      body.replaceChildren(...groupSections(current, members, myRole, render, context));
    };
    body.append(el("p", { class: "muted" }, gettext("Loading…")));
    render();
  });
}

function groupSections(conversation, members, myRole, render, context) {
  const { showError } = context;
  const isGroup = conversation.kind === "group";
  const manages = isGroup && (myRole === "owner" || myRole === "admin");
  const run = async (work) => {
    showError("");
    try {
      await work();
      await render();
    } catch (error) {
      showError(fieldErrors(error));
    }
  };
  const sections = [];
  if (manages) {
    const input = el("input", { type: "text", id: "rename-title", maxlength: 100, required: true, autocomplete: "off" });
    input.value = conversation.title;
    sections.push(
      el(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            run(async () => store.upsertConversation(await api("PATCH", `conversations/${conversation.id}`, { title: input.value.trim() })));
          },
        },
        el("label", { htmlFor: "rename-title" }, gettext("Group name")),
        el("div", { class: "row" }, input, el("button", { type: "submit" }, gettext("Rename"))),
      ),
    );
  }
  const list = el("ul", { class: "member-list", "aria-label": gettext("Members") });
  for (const member of members) {
    const { user } = member;
    const isMe = user.number === state.me.number;
    const controls = el("div", { class: "member-actions" });
    if (isGroup && myRole === "owner" && !isMe) {
      const id = `role-${conversation.id}-${user.number}`;
      const select = el(
        "select",
        {
          id,
          onchange: async () => {
            const role = select.value;
            if (role === "owner") {
              const ok = await confirmDialog({
                title: gettext("Hand over the group?"),
                text: interpolate(gettext("%(name)s becomes the owner and you become an admin."), { name: user.display_name }),
                confirmLabel: gettext("Make owner"),
              });
              if (!ok) {
                select.value = member.role;
                return;
              }
            }
            run(() => api("PATCH", `conversations/${conversation.id}/members/${user.number}`, { role }));
          },
        },
        ["member", "admin", "owner"].map((role) => el("option", { value: role, selected: role === member.role }, roleLabel(role))),
      );
      select.value = member.role;
      controls.append(el("label", { htmlFor: id, class: "visually-hidden" }, gettext("Role")), select);
    } else if (isGroup) {
      controls.append(el("span", { class: "role" }, roleLabel(member.role)));
    }
    const mayRemove = isGroup && !isMe && (myRole === "owner" || (myRole === "admin" && member.role === "member"));
    if (mayRemove) {
      controls.append(
        el(
          "button",
          {
            type: "button",
            class: "secondary small",
            onclick: async () => {
              const ok = await confirmDialog({
                title: gettext("Remove from group?"),
                text: interpolate(gettext("%(name)s will leave the group."), { name: user.display_name }),
                confirmLabel: gettext("Remove"),
                danger: true,
              });
              if (ok) run(() => api("DELETE", `conversations/${conversation.id}/members/${user.number}`));
            },
          },
          gettext("Remove"),
        ),
      );
    }
    list.append(
      el(
        "li",
        {},
        avatar(user.number, { presence: !isMe }),
        el("span", { class: "member-name" }, user.display_name, " ", el("small", { class: "muted" }, isMe ? gettext("(you)") : `#${user.number}`)),
        controls,
      ),
    );
  }
  sections.push(el("h3", {}, interpolate(gettext("Members (%(count)s)"), { count: members.length })), list);
  if (manages) {
    const present = new Set(members.map((member) => member.user.number));
    const picker = friendPicker(gettext("Add members"), present);
    sections.push(
      el(
        "form",
        {
          onsubmit: (event) => {
            event.preventDefault();
            const chosen = picker.chosen();
            if (!chosen.length) {
              showError(gettext("Pick at least one friend."));
              return;
            }
            run(() => post(`conversations/${conversation.id}/members`, { members: chosen }));
          },
        },
        picker.fieldset,
        el("div", { class: "dialog-actions" }, el("button", { type: "submit" }, gettext("Add members"))),
      ),
    );
  }
  if (isGroup) {
    sections.push(
      el(
        "div",
        { class: "dialog-actions leave" },
        el(
          "button",
          {
            type: "button",
            class: "danger",
            onclick: async () => {
              const ok = await confirmDialog({
                title: gettext("Leave the group?"),
                text: gettext("You will no longer see its messages."),
                confirmLabel: gettext("Leave group"),
                danger: true,
              });
              if (!ok) return;
              try {
                await api("DELETE", `conversations/${conversation.id}/members/${state.me.number}`);
                store.removeConversation(conversation.id);
                context.close();
              } catch (error) {
                showError(error.message);
              }
            },
          },
          gettext("Leave group"),
        ),
      ),
    );
  }
  return sections;
}
