// The console's only script besides htmx: confirmations and copying ids or secrets.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) { event.preventDefault(); }
}, true);

document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("[data-copy]");
  if (!button) { return; }
  var source = document.querySelector(button.getAttribute("data-copy"));
  var status = button.parentElement.querySelector(".copied");
  var text = source ? source.textContent.trim() : "";
  var done = function () { if (status) { status.textContent = "Copié"; } };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () { fallback(text); done(); });
  } else { fallback(text); done(); }
});

function fallback(text) {
  var area = document.createElement("textarea");
  area.value = text; area.setAttribute("readonly", ""); area.style.position = "absolute"; area.style.left = "-9999px";
  document.body.appendChild(area); area.select();
  try { document.execCommand("copy"); } catch (e) { /* the id stays selectable on the page */ }
  document.body.removeChild(area);
}

// Keyboard users keep their place: a region does not refresh itself while focus is inside it.
document.addEventListener("htmx:beforeRequest", function (event) {
  var region = event.detail.elt;
  var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
  if (verb === "get" && region.contains(document.activeElement) && document.activeElement !== document.body) {
    event.preventDefault();
  }
});
