// Delinkcious pages: small enhancements on top of pages that work without JavaScript.
(function () {
  "use strict";

  // After an in-place change, put keyboard focus somewhere sensible.
  document.addEventListener("htmx:afterSettle", function () {
    var focus = document.querySelector("[data-focus]");
    if (focus) {
      focus.removeAttribute("data-focus");
      focus.focus();
      return;
    }
    var gone = document.querySelector("[data-focus-next]");
    if (gone) {
      gone.removeAttribute("data-focus-next");
      var next = gone.nextElementSibling || gone.previousElementSibling;
      var link = next && next.querySelector("a, button");
      (link || document.getElementById("main")).focus();
    }
  });

  // A page that answers an action (a new token, say) puts focus on what it reports.
  var first = document.querySelector("[data-focus]");
  if (first) {
    first.removeAttribute("data-focus");
    first.focus();
  }

  // "/" jumps to the search, as on many link managers; not while typing.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var active = document.activeElement;
    if (active && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName)) return;
    var search = document.getElementById("title_regex");
    if (search) {
      event.preventDefault();
      search.focus();
    }
  });

  // Copy buttons (the new API token).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    field.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard) {
      navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // Forms that destroy something ask first (without JavaScript they just submit).
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) event.preventDefault();
  }, true);

  // Import: upload with a progress bar, then show the summary the server answers.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("[data-upload]")) return;
    var input = form.querySelector("input[type=file]");
    if (!input || !input.files.length || !window.FormData) return;
    event.preventDefault();
    var progress = document.getElementById("upload-progress");
    var status = document.getElementById("upload-status");
    var result = document.getElementById("import-result");
    var button = form.querySelector("button[type=submit]");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      progress.hidden = false;
      progress.value = Math.round((e.loaded / e.total) * 100);
      status.textContent = e.loaded < e.total
        ? "Uploading: " + progress.value + "%"
        : "Uploaded; importing the links…";
    });
    xhr.addEventListener("load", function () {
      progress.hidden = true;
      button.disabled = false;
      status.textContent = xhr.status < 300 ? "Import finished." : "Import failed.";
      if ((xhr.getResponseHeader("Content-Type") || "").indexOf("text/html") === 0) {
        result.innerHTML = xhr.responseText; // our own server-rendered, escaped fragment
      } else {
        // An error answered before the page's code ran (a file over the size limit, say).
        var message = "The import failed (" + xhr.status + ").";
        try { message = JSON.parse(xhr.responseText).error.message; } catch (e) { /* keep it */ }
        var alert = document.createElement("p");
        alert.className = "notice error";
        alert.setAttribute("role", "alert");
        alert.textContent = message;
        result.replaceChildren(alert);
      }
      var heading = result.querySelector("h2, [role=alert]");
      if (heading) { heading.setAttribute("tabindex", "-1"); heading.focus(); }
    });
    xhr.addEventListener("error", function () {
      progress.hidden = true;
      button.disabled = false;
      status.textContent = "The upload failed: check the connection and try again.";
    });
    button.disabled = true;
    progress.value = 0;
    progress.hidden = false;
    status.textContent = "Uploading…";
    xhr.send(new FormData(form));
  });
})();
