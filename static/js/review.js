// The review page's keyboard: j/k move between answers, a approves, s goes to the reason
// for sending back (Ctrl+Enter sends it), u undoes the decision just made. The keys are
// listed on the page. Nothing fires while a field has the focus or with a modifier held, so
// typing a reason that contains an "a" never approves anything.
(function () {
  "use strict";
  var table = document.querySelector("[data-review-items]");
  if (!table) { return; }

  function items() {
    return Array.prototype.slice.call(table.querySelectorAll("[data-review-item]"));
  }
  function current() {
    return table.querySelector("[data-review-item].current") || items()[0] || null;
  }
  function select(row) {
    if (!row) { return; }
    items().forEach(function (other) {
      other.classList.remove("current");
      other.removeAttribute("aria-current");
    });
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    row.focus({ preventScroll: true });
    row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = items();
    var chosen = table.querySelector("[data-review-item].current");
    // The first key press starts at the first answer, whichever way it goes.
    if (!chosen) { select(all[0]); return; }
    var at = all.indexOf(chosen);
    select(all[Math.min(Math.max(at + step, 0), all.length - 1)]);
  }
  function typing(target) {
    return target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]");
  }
  function press(selector) {
    var row = current();
    var button = row && row.querySelector(selector);
    if (button) { button.click(); return true; }
    return false;
  }

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey && event.key === "Enter" && event.target.matches("[data-review-reason]")) {
      var form = event.target.form;
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      return;
    }
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) { return; }
    var handled = true;
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": handled = press("[data-review-approve]"); break;
      case "u": handled = press("[data-review-undo]"); break;
      case "s": {
        var reason = current() && current().querySelector("[data-review-reason]");
        if (reason) { reason.focus(); } else { handled = false; }
        break;
      }
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // A row clicked becomes the current one; a row swapped in place stays current, with the
  // focus on it so that the next key press acts on the next answer.
  table.addEventListener("click", function (event) {
    var row = event.target.closest("[data-review-item]");
    if (row && !row.classList.contains("current")) {
      items().forEach(function (other) { other.classList.remove("current"); });
      row.classList.add("current");
    }
  });
  // The row swapped in replaces the one that asked; events on the old one no longer reach
  // the page, so its id is noted before the swap and the new row taken up when it loads.
  // The rows swap with "settle:0ms": htmx then settles (and fires htmx:load) in the same
  // task as the swap, so no key press falls between a row shown and a row selected. With
  // htmx's default 20 ms, a "j" pressed in that gap moved from no row at all, and the
  // settle then put the old attributes back over the selection.
  var swapping = null;
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    swapping = target && target.matches && target.matches("[data-review-item]") ? target.id : null;
  });
  document.body.addEventListener("htmx:load", function (event) {
    var loaded = event.detail.elt;
    if (swapping && loaded && loaded.id === swapping) {
      swapping = null;
      select(loaded);
    }
  });
})();
