// iogate dashboard: copy buttons. Loaded as an external file so that the
// Content-Security-Policy can forbid inline script. A button with
// data-copy="ID" copies the text of the element with that ID.
(function () {
  "use strict";

  function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text);
    }
    return Promise.reject(new Error("clipboard unavailable"));
  }

  function selectText(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) {
      return;
    }
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    copyText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
      button.classList.add("is-copied");
    }, function () {
      // Without clipboard access, select the text so that Ctrl+C or Cmd+C copies it.
      selectText(source);
      button.textContent = "Press Ctrl+C to copy";
    });
    window.setTimeout(function () {
      button.textContent = label;
      button.classList.remove("is-copied");
    }, 2500);
  });
})();
