// A class from need to evaluation: the needs, design, evaluation and equity pages (中文).
const CONSTRAINT_NAMES = {
  capacity: "班级容量", target_ranks: "目标职级", unit_quota: "单位名额", max_recent_hours: "近一年学时上限",
  fairness: "公平约束（不超过需求占比的倍数）", unit_ids: "目标单位（名单外单位人数）", hours: "学时", days: "天数",
  repeat_courses: "重复培训（学员已学比例上限）", teacher_load: "教师每月课次", teacher_dates: "教师同日在其他班次授课",
  sessions_staffed: "已配教师的课次", staff_dates: "班主任/教辅档期", exclude_cadre_ids: "已移出的学员（仍在名单中）",
  exclude_course_ids: "已移出的课程（仍在安排中）", exclude_teacher_ids: "已移出的教师（仍在安排中）",
};
const UNITS_OF = {capacity: "人", unit_quota: "人", max_recent_hours: "学时", hours: "学时", days: "天",
  teacher_load: "次", teacher_dates: "次", sessions_staffed: "个", staff_dates: "人", fairness: "倍",
  exclude_cadre_ids: "人", exclude_course_ids: "门", exclude_teacher_ids: "人", unit_ids: "人"};
function pct(x) { return x === null || x === undefined ? "—" : `${Math.round(x * 1000) / 10}%`; }
function num(x, d = 1) { return x === null || x === undefined ? "—" : (Math.round(x * 10 ** d) / 10 ** d).toString(); }
function words(value, constraint) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map(esc).join("、") : "不限";
  if (typeof value === "object") return Object.entries(value).map(([k, v]) => `${esc(k)} ${esc(v)} 人`).join("、") || "—";
  if (typeof value === "number") {
    if (constraint === "repeat_courses") return pct(value);
    return `${num(value, 3)} ${UNITS_OF[constraint] || ""}`.trim();
  }
  return esc(value);
}
function constraintRows(list) {
  return list.map(c => {
    const name = CONSTRAINT_NAMES[c.constraint] || c.constraint;
    const who = c.unit_id ? `：${esc(c.unit_name || c.unit_id)}` : "";
    const short = c.shortfall ? `<span class="bad">（尚缺 ${c.shortfall}）</span>` : "";
    return `<tr><td>${esc(name)}${who}</td><td>${words(c.limit, c.constraint)}</td><td>${words(c.used, c.constraint)}${short}</td></tr>`;
  }).join("");
}
// The Chinese part of a server message ("constraint: 中文 (English)").
function chinesePart(message) {
  if (!message) return "";
  const body = message.includes(": ") ? message.slice(message.indexOf(": ") + 2) : message;
  return body.split(" (")[0];
}
function showClassError(e) {
  if (e instanceof ApiError && (e.code === "infeasible" || e.code === "not_ended") && e.detail) {
    document.getElementById("error").textContent = "出错了：" + chinesePart(e.detail);
  } else {
    showError(e);
  }
}

// --- 训前需求分析 ---------------------------------------------------------------------------------
const SOURCES = {members: "本班学员", target_ranks: "本班尚未调训：按目标职级内的干部分析", cadres: "拟调训名单", units_ranks: "所选单位与职级的干部"};
async function showNeeds(classId) {
  document.getElementById("class-id").textContent = classId;
  try {
    const n = await api(`/v1/classes/${encodeURIComponent(classId)}/needs`);
    const ranks = Object.entries(n.cohort.ranks).map(([r, c]) => `${esc(r)} ${c} 人`).join("、");
    document.getElementById("cohort").innerHTML =
      `分析对象：${esc(SOURCES[n.cohort.source] || n.cohort.source)}，共 ${n.cohort.size} 人，来自 ${n.cohort.units} 个单位（${ranks}）。`;
    const order = n.topics.slice().sort((a, b) => a.topic_id.localeCompare(b.topic_id));
    const close = a => a.concat([a[0]]);
    const theta = close(order.map(t => t.name));
    Plotly.newPlot("radar", [
      {type: "scatterpolar", r: close(order.map(t => t.mean_target)), theta, name: "岗位要求（平均）", line: {dash: "dash", color: "#555"}},
      {type: "scatterpolar", r: close(order.map(t => t.mean_reserve)), theta, name: "学员平均储备度", fill: "toself", line: {color: "#b3261e"}},
    ], {polar: {radialaxis: {range: [0, 100]}}, margin: {t: 30, b: 30}, legend: {orientation: "h"}}, {displaylogo: false});
    const box = document.getElementById("hists");
    box.innerHTML = n.weak_topics.map((w, i) =>
      `<div class="hist"><h3>${esc(w.name)}：${pct(w.share_short)} 未达要求，平均缺口 ${w.mean_gap} 分</h3><div id="hist-${i}" class="chart" style="height:240px"></div></div>`).join("");
    n.weak_topics.forEach((w, i) => {
      const mids = w.counts.map((_, j) => (w.edges[j] + w.edges[j + 1]) / 2);
      Plotly.newPlot(`hist-${i}`, [{type: "bar", x: mids, y: w.counts, marker: {color: "#b3261e"}, name: "人数",
        hovertemplate: "储备度 %{x}：%{y} 人<extra></extra>"}],
        {margin: {t: 10, b: 40}, xaxis: {title: "储备度", range: [0, 100]}, yaxis: {title: "人数"},
         shapes: [{type: "line", x0: w.mean_target, x1: w.mean_target, y0: 0, y1: 1, yref: "paper", line: {dash: "dash", color: "#555"}}],
         annotations: [{x: w.mean_target, y: 1, yref: "paper", text: "岗位要求", showarrow: false, yanchor: "bottom"}]}, {displaylogo: false});
    });
    document.querySelector("#topics tbody").innerHTML = n.topics.map(t =>
      `<tr><td>${esc(t.name)}</td><td>${t.mean_reserve}</td><td>${t.sd_reserve}</td><td>${t.mean_target}</td>` +
      `<td class="${t.share_short >= 0.5 ? "bad" : ""}">${pct(t.share_short)}</td><td>${t.mean_gap}</td></tr>`).join("");
    document.querySelector("#suggested tbody").innerHTML = n.suggested_topics.map(t =>
      `<tr><td>${esc(t.name)}</td><td>${pct(t.weight)}</td><td>${reasons(t.reasons)}</td></tr>`).join("");
    document.querySelector("#taken tbody").innerHTML = n.taken_courses.length ? n.taken_courses.map(c =>
      `<tr><td>${esc(c.title)} <small>${esc(c.course_id)}</small></td><td>${pct(c.share)}</td></tr>`).join("")
      : "<tr><td colspan=2>（学员尚无参训记录）</td></tr>";
  } catch (e) { showClassError(e); }
}

// --- 训后评价总结 ---------------------------------------------------------------------------------
async function showEvaluation(classId) {
  try {
    const v = await api(`/v1/classes/${encodeURIComponent(classId)}/evaluation`);
    document.getElementById("class-name").textContent = `${v.name}（${v.start_on} 至 ${v.end_on}）`;
    const e = v.effect;
    document.getElementById("summary").innerHTML = e ? (
      `学员前测到后测的平均提升 <b>${pct(e.gain)}</b>（按题目难度校正，${e.measured} 人有前后测；` +
      `同类学员构成的班次预期提升 ${pct(e.expected_gain)}，本班增值 <b class="${e.value_added >= 0 ? "ok" : "bad"}">${pct(e.value_added)}</b>，` +
      `超过 ${pct(e.percentile)} 的班次，共比较 ${e.classes_compared} 个班次）。` +
      (e.total_scores_only ? "本班考试只保存了总分，提升按原始得分率计算，未做题目难度校正。" : ""))
      : "本班没有前测和后测成绩，无法计算提升。";
    const names = v.topics.map(t => t.name);
    Plotly.newPlot("gains", [
      {type: "bar", x: names, y: v.topics.map(t => t.gain === null ? 0 : 100 * t.gain), name: "本班", marker: {color: "#b3261e"}},
      {type: "bar", x: names, y: v.topics.map(t => t.peer_mean === null ? 0 : 100 * t.peer_mean), name: "同类班次平均", marker: {color: "#9aa5b1"}},
    ], {barmode: "group", margin: {t: 40, b: 80}, yaxis: {title: "提升（百分点）"}, legend: {orientation: "h", x: 0, y: 1.12}}, {displaylogo: false});
    Plotly.newPlot("members", [{type: "histogram", x: v.member_gains.map(g => 100 * g), marker: {color: "#b3261e"}, name: "学员"}],
      {margin: {t: 10, b: 40}, xaxis: {title: "学员提升（百分点）"}, yaxis: {title: "人数"}}, {displaylogo: false});
    document.querySelector("#topics tbody").innerHTML = v.topics.map(t =>
      `<tr><td>${esc(t.name)}</td><td>${pct(t.weight)}</td><td>${pct(t.gain)}</td><td>${pct(t.peer_mean)}（${t.peer_classes} 个班次）</td>` +
      `<td>${pct(t.percentile)}</td><td>${t.measured}</td></tr>`).join("");
    const roles = {teacher: "授课教师", staff: "班主任/教辅"};
    document.querySelector("#ratings tbody").innerHTML = v.ratings.length ? v.ratings.map(r =>
      `<tr><td>${roles[r.role]}</td><td>${esc(r.person_id)}</td><td>${r.ratings}</td><td>${num(r.raw_mean, 2)}</td>` +
      `<td><b>${num(r.corrected_mean, 2)}</b></td><td>${num(r.overall_quality, 2)}</td></tr>`).join("")
      : "<tr><td colspan=6>（本班没有评价记录）</td></tr>";
    const a = v.attendance;
    document.querySelector("#attendance tbody").innerHTML =
      `<tr><td>班级容量</td><td>${a.capacity ?? "—"} 人</td></tr><tr><td>参训学员</td><td>${a.members} 人</td></tr>` +
      `<tr><td>完成全部课程的学员</td><td>${a.members_completed_all} 人</td></tr>` +
      `<tr><td>课次完成率</td><td>${pct(a.sessions_completed_share)}</td></tr><tr><td>平均学习进度</td><td>${pct(a.mean_progress)}</td></tr>` +
      `<tr><td>累计参训学时</td><td>${num(a.hours_attended)} 学时</td></tr>`;
    document.querySelector("#short tbody").innerHTML = v.still_short.length ? v.still_short.map(s =>
      `<tr><td><a href="/ui/cadres/${encodeURIComponent(s.cadre_id)}">${esc(s.cadre_id)}</a></td><td>${unitLabel(s.unit_id, s.unit_name)}</td><td>${esc(s.rank)}</td>` +
      `<td class="bad">${s.gap} 分</td><td>${esc(s.topic_name)}（${s.topic_gap} 分）</td></tr>`).join("")
      : "<tr><td colspan=5>（学员在本班专题上均已达到岗位要求）</td></tr>";
  } catch (e) { showClassError(e); }
}

// --- 调训公平性 -----------------------------------------------------------------------------------
function ratioCell(r) { return r === null ? "—" : `<span class="${r > 1.5 ? "bad" : r < 0.67 ? "" : "ok"}">${num(r, 2)}</span>`; }
async function loadEquity() {
  clearError();
  const start = document.getElementById("start").value, end = document.getElementById("end").value;
  try {
    const q = await api(`/v1/rollcall/equity?start=${start}&end=${end}`);
    const c = q.concentration;
    document.getElementById("summary").innerHTML =
      `期间共 ${q.classes} 个调训班次、${q.seats} 个席位（数据截至 ${q.data_until}）。近三年调训席位集中度：基尼系数 <b>${num(c.gini, 3)}</b>，` +
      `调训最多的 10% 干部占 ${pct(c.top10_share)} 的席位，${pct(c.never_called)} 的在职干部从未被调训。` +
      `“需求占比”为按各班次专题缺口、按需分配时该单位应得的席位占比；席位/需求大于 1 表示多占。`;
    const units = q.units.filter(u => u.seats > 0 || u.need > 0);
    const label = u => u.name || u.unit_id;
    Plotly.newPlot("bars", [
      {type: "bar", x: units.map(label), y: units.map(u => 100 * u.seat_share), name: "席位占比", marker: {color: "#b3261e"}},
      {type: "bar", x: units.map(label), y: units.map(u => 100 * u.need_share), name: "需求占比", marker: {color: "#9aa5b1"}},
    ], {barmode: "group", margin: {t: 40, b: 140}, yaxis: {title: "占比（%）"}, legend: {orientation: "h", x: 0, y: 1.12}}, {displaylogo: false});
    document.querySelector("#districts tbody").innerHTML = q.districts.map(d =>
      `<tr><td>${esc(d.district || "—")}</td><td>${num(d.seats, 0)}</td><td>${pct(d.seat_share)}</td><td>${pct(d.need_share)}</td><td>${ratioCell(d.ratio)}</td></tr>`).join("");
    document.querySelector("#units tbody").innerHTML = units.map(u =>
      `<tr><td>${unitLabel(u.unit_id, u.name)}</td><td>${esc(u.district || "—")}</td><td>${num(u.seats, 0)}</td><td>${pct(u.seat_share)}</td><td>${pct(u.need_share)}</td><td>${ratioCell(u.ratio)}</td></tr>`).join("");
  } catch (e) { showClassError(e); }
}
function showEquity() {
  const now = new Date();
  document.getElementById("start").value = `${now.getFullYear() - 3}-01-01`;
  document.getElementById("end").value = `${now.getFullYear() + 1}-01-01`;
  document.getElementById("go").onclick = loadEquity;
  loadEquity();
}

// --- 一键设计班次 ---------------------------------------------------------------------------------
const RANK_LIST = ["科员", "副科", "正科", "副处", "正处", "副厅"];
const removed = [];  // {kind: course|teacher|staff|cadre, id, label}
let goal = null;
function readGoal() {
  const val = id => document.getElementById(id).value.trim();
  const g = {capacity: Number(val("capacity")), month: val("month"), days: val("days") ? Number(val("days")) : null,
    target_ranks: RANK_LIST.filter(r => document.getElementById(`rank-${r}`).checked),
    unit_ids: val("units") ? val("units").split(/[,，\s]+/).filter(Boolean) : []};
  if (val("hours")) g.hours = Number(val("hours"));
  if (val("max-hours")) g.max_recent_hours = Number(val("max-hours"));
  if (val("fairness")) g.fairness_bound = Number(val("fairness"));
  if (g.days === null) delete g.days;
  return g;
}
function excluded(kind) { return removed.filter(r => r.kind === kind).map(r => r.id); }
async function runDesign() {
  clearError();
  const body = Object.assign({}, goal, {exclude_course_ids: excluded("course"), exclude_teacher_ids: excluded("teacher"),
    exclude_staff_ids: excluded("staff"), exclude_cadre_ids: excluded("cadre")});
  try {
    const d = await api("/v1/classes/design", {method: "POST", body: JSON.stringify(body)});
    renderDesign(d);
  } catch (e) { showClassError(e); }
}
function removeButton(kind, id, label) {
  return `<button class="secondary remove" data-kind="${kind}" data-id="${esc(id)}" data-label="${esc(label)}">移出</button>`;
}
function renderDesign(d) {
  document.getElementById("result").style.display = "";
  document.getElementById("steps").innerHTML = d.steps.map(s => `<li><b>${esc(s.title)}</b>：${esc(s.summary)}</li>`).join("");
  document.getElementById("complete").innerHTML = `开班 ${d.start_on} 至 ${d.end_on}，共 ${d.days} 天、${num(d.hours)} 学时。` +
    (d.complete ? '<span class="ok">设计完整：每个课次均已配教师，班主任已安排。</span>' : '<span class="bad">设计尚不完整：部分课次或班主任无可用人选，见下方说明。</span>');
  Plotly.newPlot("topic-bars", [{type: "bar", x: d.topics.map(t => t.name), y: d.topics.map(t => 100 * t.weight), marker: {color: "#b3261e"}, name: "权重"}],
    {margin: {t: 10, b: 40}, yaxis: {title: "权重（%）"}}, {displaylogo: false});
  document.querySelector("#topics tbody").innerHTML = d.topics.map(t =>
    `<tr><td>${esc(t.name)}</td><td>${pct(t.weight)}</td><td>${pct(t.pool_weight)}</td><td>${reasons(t.reasons)}</td></tr>`).join("");
  document.querySelector("#sessions tbody").innerHTML = d.sessions.map(s =>
    `<tr><td>${s.session_on}</td><td>${esc(s.title)} <small>${esc(s.course_id)}</small> ${removeButton("course", s.course_id, s.title)}</td><td>${esc(s.topic_name)}</td><td>${num(s.hours)}</td>` +
    `<td>${reasons(s.reasons)}</td><td>${s.teacher_id ? `${esc(s.teacher_id)}<br><small>预计评分 ${num(s.predicted_rating, 2)}</small>` : `<span class="bad">${esc(s.unfilled_reason || "无可用教师")}</span>`}</td>` +
    `<td>${reasons(s.teacher_reasons)}</td><td>${s.teacher_id ? removeButton("teacher", s.teacher_id, "教师 " + s.teacher_id) : ""}</td></tr>`).join("");
  document.getElementById("staff").innerHTML = d.staff
    ? `<p><b>${esc(d.staff.staff_id)}</b>（预计评分 ${num(d.staff.predicted_rating, 2)}） ${reasons(d.staff.reasons)} ${removeButton("staff", d.staff.staff_id, "班主任 " + d.staff.staff_id)}</p>` +
      (d.staff.alternatives.length ? `<p class="note">其次：${d.staff.alternatives.map(esc).join("、")}</p>` : "")
    : '<p class="bad">班次期间没有空闲的班主任/教辅。</p>';
  document.querySelector("#roster tbody").innerHTML = d.roster.map((c, i) =>
    `<tr><td>${i + 1}</td><td>${esc(c.cadre_id)}</td><td>${unitLabel(c.unit_id, c.unit_name)}</td><td>${esc(c.rank)}</td><td>${c.score.toFixed(3)}</td>` +
    `<td>${reasons(c.reasons)}</td><td>${removeButton("cadre", c.cadre_id, "学员 " + c.cadre_id)}</td></tr>`).join("");
  document.querySelector("#constraints tbody").innerHTML = constraintRows(d.constraints);
  document.querySelector("#equity tbody").innerHTML = d.equity.units.filter(u => u.seats > 0).map(u =>
    `<tr><td>${unitLabel(u.unit_id, u.name)}</td><td>${num(u.seats, 0)}</td><td>${pct(u.seat_share)}</td><td>${pct(u.need_share)}</td><td>${ratioCell(u.ratio)}</td></tr>`).join("");
  document.querySelectorAll("#result button.remove").forEach(b => b.onclick = () => {
    removed.push({kind: b.dataset.kind, id: b.dataset.id, label: b.dataset.label});
    runDesign();
  });
  const box = document.getElementById("removed");
  box.innerHTML = removed.length ? removed.map((r, i) =>
    `<span class="removed-cadre">${esc(r.label)} <button class="secondary undo" data-index="${i}">撤销</button></span>`).join("　") : "（无）";
  box.querySelectorAll("button.undo").forEach(b => b.onclick = () => { removed.splice(Number(b.dataset.index), 1); runDesign(); });
}
function showDesign() {
  document.getElementById("ranks").innerHTML = RANK_LIST.map(r =>
    `<label class="inline"><input type="checkbox" id="rank-${r}" ${r === "正科" || r === "副处" ? "checked" : ""}>${r}</label>`).join("");
  const now = new Date(), next = new Date(now.getFullYear(), now.getMonth() + 1, 1);
  document.getElementById("month").value = `${next.getFullYear()}-${String(next.getMonth() + 1).padStart(2, "0")}`;
  document.getElementById("design-go").onclick = () => { goal = readGoal(); removed.length = 0; runDesign(); };
}
