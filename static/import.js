// Uploads the chosen ledger files; the session's CSRF token goes in the X-CSRF-Token header.
(function () {
  var form = document.getElementById("import-form");
  if (!form) { return; }
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var data = new FormData();
    var files = document.getElementById("import-files").files;
    for (var i = 0; i < files.length; i++) { data.append("files", files[i], files[i].name); }
    var out = document.getElementById("import-result");
    out.textContent = "…";
    fetch("/ledger/import", { method: "POST", body: data, credentials: "same-origin",
                              headers: { "X-CSRF-Token": form.getAttribute("data-csrf") } })
      .then(function (r) { return r.text(); })
      // The server escapes every value in this fragment.
      .then(function (html) { out.innerHTML = html; })
      .catch(function (e) { out.textContent = String(e); });
  });
})();
