// Shared by the org-staff pages: the API key (kept in this browser tab only), API calls, error
// messages in Chinese, and the example ids of the loaded model.
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

// The service's error codes ({"error": {"code", "message"}}) in Chinese.
const ERROR_TEXT = {
  missing_api_key: "缺少 API 密钥：请在页面右上角输入密钥并点击“保存”。",
  invalid_api_key: "API 密钥无效或已被吊销：请核对密钥，或向系统管理员申请新的密钥。",
  unauthorized: "未通过身份验证：请检查 API 密钥。",
  forbidden: "当前密钥无权进行此项操作。",
  not_found: "未找到该编号，或它不在当前密钥的查看范围内。请核对编号，或点击下方的示例编号。",
  invalid_request: "请求内容有误，请检查输入。",
  infeasible: "在现有约束（容量、职级、单位名额、学时上限等）下无法组成名单，请放宽约束后再试。",
  not_ready: "模型尚未加载完成，请稍后刷新页面。",
  not_ended: "该班次在模型数据截止日前尚未结束，暂不能评价。",
  conflict: "操作未能完成：与当前状态冲突。",
  too_large: "请求内容过大。",
  method_not_allowed: "不支持该请求方式。",
  unsupported_media: "请求格式不受支持。",
  internal: "服务内部出错，请联系系统管理员查看服务日志。",
  cadre_left: "该干部已离任，不再为其推荐课程；其培训档案仍可查看。",
  missing_part: "当前模型版本缺少此项功能所需的数据，请重新训练模型后再试。",
};
class ApiError extends Error {
  constructor(code, status, detail) {
    super(chineseError(code));
    this.code = code;
    this.status = status;
    this.detail = detail || "";  // the server's own message (Chinese first for infeasible goals)
  }
}
function chineseError(code) {
  return ERROR_TEXT[code] || `请求未成功（错误代码：${code}）。`;
}
async function api(path, options = {}) {
  const headers = Object.assign({"X-API-Key": apiKey(), "Content-Type": "application/json"}, options.headers || {});
  let r;
  try {
    r = await fetch(path, Object.assign({}, options, {headers}));
  } catch (e) {
    throw new ApiError("network", 0);
  }
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) { throw new ApiError((body && body.error && body.error.code) || `http_${r.status}`, r.status, body && body.error && body.error.message); }
  return body;
}
ERROR_TEXT.network = "无法连接到服务，请检查网络或服务是否在运行。";
function showError(e) {
  const text = e instanceof ApiError ? e.message : "页面出错：" + (e && e.message ? e.message : e);
  document.getElementById("error").textContent = "出错了：" + text;
}
function clearError() { document.getElementById("error").textContent = ""; }
function esc(s) { return String(s).replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c])); }
function reasons(list) { return (list || []).map(r => `<span class="reason">${esc(r)}</span>`).join(""); }
function unitLabel(id, name) { return name ? `${esc(name)} <small>${esc(id)}</small>` : esc(id); }

// Example ids from the loaded model (only those this key may open), as links.
let examplesPromise = null;
function loadExamples() {
  if (!examplesPromise) {
    examplesPromise = apiKey() ? api("/v1/examples").catch(() => null) : Promise.resolve(null);
  }
  return examplesPromise;
}
function cadreUrl(id) { return "/ui/cadres/" + encodeURIComponent(id); }
function unitUrl(id) { return "/ui/units/" + encodeURIComponent(id); }
function rosterUrl(id) { return "/ui/classes/" + encodeURIComponent(id) + "/roster"; }
async function showExamples() {
  const box = document.getElementById("examples");
  if (!box) return;
  if (!apiKey()) {
    box.innerHTML = "<p>请先在右上角输入 API 密钥并保存，即可看到可以查看的示例编号。</p>";
    return;
  }
  const ex = await loadExamples();
  if (!ex) { box.innerHTML = ""; return; }
  const parts = [];
  if (ex.cadres.length) {
    parts.push("<p>干部：" + ex.cadres.map(c =>
      `<a class="example" href="${cadreUrl(c.cadre_id)}">${esc(c.cadre_id)}</a>` +
      `<small>（${esc(c.unit_name || c.unit_id)}，${esc(c.rank)}，${c.topics_answered} 个专题有作答，最大缺口 ${c.largest_gap}：${esc(c.largest_gap_topic)}）</small>`).join("　") + "</p>");
  }
  if (ex.units.length) {
    parts.push("<p>单位：" + ex.units.map(u =>
      `<a class="example" href="${unitUrl(u.unit_id)}">${esc(u.unit_id)}</a><small>（${esc(u.name || "")}）</small>`).join("　") + "</p>");
  }
  if (ex.classes.length) {
    parts.push("<p>调训班次：" + ex.classes.map(c =>
      `<a class="example" href="${rosterUrl(c.class_id)}">${esc(c.class_id)}</a><small>（${esc(c.name)}，${c.capacity} 人）</small>`).join("　") + "</p>");
  }
  box.innerHTML = parts.length ? "<h3>试试这些编号</h3>" + parts.join("") : "";
}
