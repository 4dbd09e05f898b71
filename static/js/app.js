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
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) { dialog.close(); dialog.innerHTML = ""; }
    }
  });
  // Buttons that ask before a destructive action.
  document.addEventListener("submit", function (event) {
    var message = event.submitter && event.submitter.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
  // Selects that submit their form on change (filters, language).
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-autosubmit]")) { event.target.form.requestSubmit(); }
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
  document.addEventListener("DOMContentLoaded", function () { syncAll(document); });
  document.addEventListener("htmx:afterSwap", function (event) { syncAll(event.detail.target); });
})();
