// Progressive enhancement only: every page works without this file.
// A "select all" box for lists with ticks (batch approve, batch urge, mark read).
document.querySelectorAll("form[data-ticks]").forEach(function (form) {
  var boxes = form.querySelectorAll("input[type=checkbox][name=ids]");
  if (boxes.length < 2) return;
  var label = document.createElement("label");
  label.className = "check select-all";
  var all = document.createElement("input");
  all.type = "checkbox";
  all.id = "select-all";
  label.appendChild(all);
  label.appendChild(document.createTextNode(" " + (form.dataset.ticks || "")));
  form.insertBefore(label, form.firstChild);
  all.addEventListener("change", function () {
    boxes.forEach(function (b) { b.checked = all.checked; });
  });
});
