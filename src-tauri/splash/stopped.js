// The shell puts the reason the gateway stopped (when it was not the person's choice) in the
// fragment; show it as text.
let reason = "";
try {
  reason = decodeURIComponent(location.hash.slice(1));
} catch {
  reason = location.hash.slice(1);
}
if (reason) {
  const el = document.getElementById("reason");
  el.textContent = reason;
  el.hidden = false;
}
