// Behaviour without inline scripts, so that a strict Content-Security-Policy holds.
(function () {
  "use strict";
  // A form with errors (4xx) is content to show in place, like a page would; a 5xx is not.
  if (window.htmx) {
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true, error: false },
      { code: "...", swap: false, error: true },
    ];
  }
  // Content that htmx swaps into the shared <dialog> opens it; closing empties it.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = document.getElementById("dialog");
    if (dialog && event.detail.target === dialog && dialog.innerHTML.trim() && !dialog.open) {
      dialog.showModal();
    }
  });
  // A form sent back with errors in place (the "⋯" pop-up, review rows): the keyboard goes to
  // the first field in error, instead of being lost with the element that held it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var config = event.detail.requestConfig;
    var source = (config && config.elt) || event.detail.elt;
    if (!source || !source.closest || !source.closest("form")) { return; }
    var invalid = event.detail.target.querySelector("[aria-invalid=true]");
    if (invalid) { invalid.focus(); }
  });
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) { dialog.close(); dialog.innerHTML = ""; }
    }
  });
  // A date the browser cannot read (31/02/2035) is sent as an empty value, and the forms are
  // novalidate: hold the form back while a date input is badInput, with the message the
  // server rendered in the page's language (data-bad-input) beside it. Captured on window,
  // before htmx's own submit listener on the form. The server refuses empty answers anyway.
  function showBadDate(input) {
    var message = input.parentNode.querySelector("[data-bad-input-message]");
    if (!message) {
      message = document.createElement("p");
      message.className = "error";
      message.setAttribute("role", "alert");
      message.setAttribute("data-bad-input-message", "");
      input.insertAdjacentElement("afterend", message);
    }
    message.textContent = input.getAttribute("data-bad-input");
    input.setAttribute("aria-invalid", "true");
  }
  function clearBadDate(input) {
    var message = input.parentNode && input.parentNode.querySelector("[data-bad-input-message]");
    if (message) { message.remove(); }
    input.removeAttribute("aria-invalid");
  }
  window.addEventListener("submit", function (event) {
    var inputs = event.target.querySelectorAll("input[type=date][data-bad-input]");
    var bad = Array.prototype.filter.call(inputs, function (input) {
      return input.validity && input.validity.badInput;
    });
    if (!bad.length) { return; }
    event.preventDefault();
    event.stopImmediatePropagation();
    bad.forEach(showBadDate);
    bad[0].focus();
  }, true);
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (input.matches("input[type=date][data-bad-input]") && !input.validity.badInput) {
      clearBadDate(input);
    }
  });
  // Buttons that ask before a destructive action.
  document.addEventListener("submit", function (event) {
    var message = event.submitter && event.submitter.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); return; }
    // "Remove this value" boxes: the values they remove are named, and confirmed once.
    var removal = event.target.getAttribute("data-confirm-removal");
    var removed = Array.prototype.map.call(
      event.target.querySelectorAll("input[data-removal]:checked"),
      function (box) { return "• " + box.getAttribute("data-removal"); }
    );
    if (removal && removed.length && !window.confirm(removal + "\n" + removed.join("\n"))) {
      event.preventDefault();
    }
  });
  // Selects that submit their form on change (filters). From the keyboard each arrow key is
  // a change: submitting then would reload the page on the first step, so a keyboard user
  // could never reach the fourth option (WCAG 3.2.2). A choice made with the keyboard is
  // applied on Enter or when focus leaves the select; one made with the pointer, at once.
  var keyed = new WeakSet();
  function isAutosubmit(element) {
    return element && element.matches && element.matches("select[data-autosubmit]");
  }
  function apply(select) {
    keyed.delete(select);
    if (select.value !== select.getAttribute("data-applied")) { select.form.requestSubmit(); }
  }
  document.addEventListener("focusin", function (event) {
    if (isAutosubmit(event.target)) { event.target.setAttribute("data-applied", event.target.value); }
  });
  document.addEventListener("keydown", function (event) {
    var select = event.target;
    if (!isAutosubmit(select)) { return; }
    if (event.key === "Enter") {
      event.preventDefault();
      apply(select);
    } else if (event.key !== "Tab" && event.key !== "Shift") {
      keyed.add(select);
    }
  });
  document.addEventListener("focusout", function (event) {
    if (isAutosubmit(event.target) && keyed.has(event.target)) { apply(event.target); }
  });
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (isAutosubmit(target)) {
      if (!keyed.has(target)) { apply(target); }
    } else if (target.matches("[data-autosubmit]")) {
      target.form.requestSubmit();  // a box is one deliberate step, whatever presses it
    }
  });
  // Inputs that concern one choice only show for it: the custom "every N unit" of a group's
  // frequency, a field's options for its type. Without script they all stay, with their help.
  function syncFrequency(select) {
    var custom = select.form && select.form.querySelector("[data-custom-frequency]");
    if (custom) { custom.hidden = select.value !== "custom"; }
  }
  function syncType(select) {
    if (!select.form) { return; }
    select.form.querySelectorAll("[data-for-types]").forEach(function (element) {
      var types = element.getAttribute("data-for-types").split(" ");
      element.hidden = types.indexOf(select.value) === -1;
    });
  }
  function syncAll(root) {
    root.querySelectorAll("select[data-frequency]").forEach(syncFrequency);
    root.querySelectorAll("select[data-field-type]").forEach(syncType);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-frequency]")) { syncFrequency(event.target); }
    if (event.target.matches("select[data-field-type]")) { syncType(event.target); }
  });
  // Copy buttons beside a secret shown once (a new API key, a webhook's signing secret).
  // Without script they stay hidden and the read-only input is selected by hand.
  function showCopyButtons(root) {
    root.querySelectorAll("button[data-copy]").forEach(function (button) { button.hidden = false; });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) { return; }
    var id = button.getAttribute("data-copy");
    var input = document.getElementById(id);
    var status = document.querySelector('[data-copy-status="' + id + '"]');
    function say(attribute) { if (status) { status.textContent = status.getAttribute(attribute); } }
    input.select();
    // The clipboard API needs a secure context (https or localhost); the older command
    // serves a plain-http address.
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(
        function () { say("data-copied"); },
        function () { say(document.execCommand("copy") ? "data-copied" : "data-copy-failed"); }
      );
    } else {
      say(document.execCommand("copy") ? "data-copied" : "data-copy-failed");
    }
  });
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); showCopyButtons(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncAll(event.detail.target); });
})();

// A list's "select every row" box ticks or clears the rows' boxes of its bulk form.
(function () {
  document.addEventListener("change", function (event) {
    var box = event.target;
    if (!box.matches || !box.matches("input[data-select-all]")) { return; }
    var name = box.getAttribute("data-select-all");
    var rows = document.querySelectorAll('input[type=checkbox][name="' + name + '"]');
    rows.forEach(function (row) { row.checked = box.checked; });
  });
})();

// The header's menu folds behind its "Menu" button on a phone and stays open at a desk (the
// page is served open, so that it works without script).
(function () {
  var narrow = window.matchMedia("(max-width: 640px)");
  function sync() {
    document.querySelectorAll("details[data-navmenu]").forEach(function (menu) {
      menu.open = !narrow.matches;
    });
  }
  sync();  // a deferred script: the header is parsed, and not painted folded-open yet
  narrow.addEventListener("change", sync);
})();

// A table's scroll box ({% scrollable %}) is a tab stop with a "scroll sideways" line above
// it only while the table is wider than the box.
(function () {
  function syncBoxes(root) {
    root.querySelectorAll(".table-wrap[role=region]").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls) { box.setAttribute("tabindex", "0"); } else { box.removeAttribute("tabindex"); }
      var cue = box.previousElementSibling;
      if (cue && cue.hasAttribute("data-scroll-cue")) { cue.hidden = !scrolls; }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { syncBoxes(document); });
  window.addEventListener("resize", function () { syncBoxes(document); });
  document.addEventListener("htmx:afterSettle", function () { syncBoxes(document); });
})();
