// Shared by the org-staff pages: the API key (kept in this browser tab only) and API calls.
const KEY = "ganxun-api-key";
function apiKey() { return sessionStorage.getItem(KEY) || ""; }
function setupKeyBox() {
  const input = document.getElementById("api-key");
  input.value = apiKey();
  document.getElementById("save-key").onclick = () => {
    sessionStorage.setItem(KEY, input.value.trim());
    location.reload();
  };
}
async function api(path, options = {}) {
  const headers = Object.assign({"X-API-Key": apiKey(), "Content-Type": "application/json"}, options.headers || {});
  const r = await fetch(path, Object.assign({}, options, {headers}));
  const body = await r.json();
  if (!r.ok) { throw new Error((body.error && body.error.message) || r.statusText); }
  return body;
}
function showError(e) { document.getElementById("error").textContent = "出错了：" + e.message; }
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function reasons(list) { return (list || []).map(r => `<span class="reason">${esc(r)}</span>`).join(""); }
