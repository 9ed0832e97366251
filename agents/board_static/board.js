/* socialpulse live board: polls api/board and draws it with uPlot (vendored). */
(function () {
  "use strict";
  const params = new URLSearchParams(location.search);
  const EVERY = Math.max(1, Number(params.get("every") || 5)) * 1000;
  const PALETTE = ["#2563eb", "#d97706", "#059669", "#7c3aed", "#db2777", "#0891b2",
    "#65a30d", "#dc2626", "#4b5563", "#ca8a04", "#9333ea", "#0d9488"];
  const NAMES = {
    impressions: "Impressions", reach: "Reach", engagements: "Engagements",
    engagement_rate_ratio: "Engagement rate", engagement_rate_by_reach_ratio: "Engagement / reach",
    engagement_rate_by_followers_ratio: "Engagement / followers", followers: "Followers",
    audience_growth_ratio: "Audience growth", click_through_ratio: "Click-through",
    applause_ratio: "Applause", amplification_ratio: "Amplification", virality_ratio: "Virality",
    mentions: "Mentions", share_of_voice_ratio: "Share of voice", sentiment_mean: "Sentiment (mean)",
    net_sentiment_ratio: "Net sentiment", negative_exposure: "Negative exposure",
    csat_ratio: "CSAT", nps: "NPS", bounce_ratio: "Bounce rate", roas_ratio: "ROAS",
    cost_per_click: "Cost per click", cost_per_mille: "Cost per mille", cost_per_lead: "Cost per lead",
    conversion_rate_ratio: "Conversion rate", leads: "Leads",
  };
  const label = (k) => NAMES[k] || (k.replace(/_ratio$/, "").replace(/_/g, " ")
    .replace(/^./, (c) => c.toUpperCase()));
  const CHARTS = [
    ["mentions", "Mentions", "events in the window"],
    ["impressions", "Impressions", "Σ count"],
    ["engagements", "Engagements", "likes, reactions, comments, shares, saves, clicks"],
    ["engagement_rate_ratio", "Engagement rate", "engagements / impressions"],
    ["sentiment_mean", "Sentiment", "mean, −1 … 1", true],
    ["negative_exposure", "Negative exposure", "Σ followers × (−sentiment)", true],
  ];
  const state = { charts: {}, brands: [], updates: 0, errors: 0, last: null, markers: [] };
  window.board = state;

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const color = (brand) => PALETTE[Math.max(0, state.brands.indexOf(brand)) % PALETTE.length];

  function fmt(name, v) {
    if (v == null || Number.isNaN(v)) return "–";
    if (name.endsWith("_ratio")) return (v * 100).toFixed(Math.abs(v) < 0.1 ? 2 : 1) + " %";
    if (name === "sentiment_mean") return v.toFixed(3);
    if (name === "nps") return v.toFixed(0);
    return num(v);
  }
  function num(v) {
    const a = Math.abs(v);
    if (a >= 1e9) return (v / 1e9).toFixed(2) + " G";
    if (a >= 1e6) return (v / 1e6).toFixed(2) + " M";
    if (a >= 1e4) return (v / 1e3).toFixed(1) + " k";
    if (a >= 100 || Number.isInteger(v)) return v.toFixed(0);
    return v.toFixed(2);
  }
  function axis(name, v) {
    if (v == null) return "";
    if (name.endsWith("_ratio")) return +(v * 100).toFixed(2) + "%";
    if (name === "sentiment_mean") return v.toFixed(2);
    const a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toFixed(1) + "G";
    if (a >= 1e6) return +(v / 1e6).toFixed(1) + "M";
    if (a >= 1e3) return +(v / 1e3).toFixed(1) + "k";
    return +v.toFixed(2) + "";
  }
  const clock = (t) => new Date(t * 1000).toLocaleTimeString([], { hour12: false });

  // -- alert markers: vertical lines on the charts (a uPlot plugin) --------------------------
  // markers within a few pixels share one line and one label
  function markerGroups(u) {
    const [lo, hi] = [u.scales.x.min, u.scales.x.max], groups = [];
    const shown = state.markers.filter((m) => m.t >= lo && m.t <= hi).sort((a, b) => a.t - b.t);
    for (const m of shown) {
      const x = Math.round(u.valToPos(m.t, "x", true));
      const last = groups[groups.length - 1];
      if (last && x - last.x < 8 * devicePixelRatio && last.state === m.state) last.items.push(m);
      else groups.push({ x, state: m.state, items: [m] });
    }
    return groups;
  }

  function markerLabel(group) {
    const byBrand = {};
    for (const m of group.items) (byBrand[m.brand] = byBrand[m.brand] || new Set()).add(m.rule);
    const text = Object.entries(byBrand).map(([b, rules]) => `${b}: ${[...rules].join(", ")}`).join("; ");
    return group.state === "firing" ? text : text + " resolved";
  }

  function markersPlugin() {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          ctx.font = `${11 * devicePixelRatio}px sans-serif`;
          ctx.textAlign = "left";  // uPlot leaves the y axis' "right" set
          ctx.textBaseline = "alphabetic";
          markerGroups(u).forEach((g, i) => {
            ctx.strokeStyle = ctx.fillStyle = g.state === "firing" ? "#c62828" : "#15803d";
            ctx.lineWidth = 2 * devicePixelRatio;
            ctx.setLineDash(g.state === "firing" ? [] : [6, 4]);
            ctx.beginPath();
            ctx.moveTo(g.x, u.bbox.top);
            ctx.lineTo(g.x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            // the labels go in the padding above the plot (two rows), not over the lines
            const text = markerLabel(g), w = ctx.measureText(text).width;
            const right = g.x + 4 + w > u.bbox.left + u.bbox.width;
            const tx = Math.max(u.bbox.left, right ? g.x - 4 - w : g.x + 4);
            ctx.fillText(text, tx, u.bbox.top - (4 + 13 * (i % 2)) * devicePixelRatio);
          });
          ctx.restore();
        }],
      },
    };
  }

  // 24-hour clock ticks, with seconds when the chart spans less than 10 minutes
  function timeTicks(u, vals) {
    const seconds = u.scales.x.max - u.scales.x.min < 600;
    return vals.map((v) => new Date(v * 1000).toLocaleTimeString([], {
      hour: "2-digit", minute: "2-digit", second: seconds ? "2-digit" : undefined, hour12: false }));
  }

  // dots as well as lines while a series has few points (a board that has just started)
  function sparse(u, si) {
    return u.data[si].filter((v) => v != null).length < 30;
  }

  function chartWidth(el) { return Math.max(300, el.clientWidth || 500); }

  function makeChart(el, title, sub, seriesDefs, data, withMarkers, yfmt) {
    el.innerHTML = `<h3>${esc(title)}<span class="sub">${esc(sub)}</span></h3>`;
    const opts = {
      width: chartWidth(el),
      height: 220,
      series: [{}, ...seriesDefs],
      scales: { x: { time: true } },
      axes: [{ values: timeTicks }, { size: 64, values: (u, vals) => vals.map(yfmt) }],
      legend: { live: false },
      padding: [withMarkers ? 34 : null, null, null, null],
      plugins: withMarkers ? [markersPlugin()] : [],
    };
    const plot = new uPlot(opts, data, el);
    plot._key = seriesDefs.map((s) => s.label).join("|");
    return plot;
  }

  function upsert(key, el, title, sub, seriesDefs, data, withMarkers, yfmt) {
    const old = state.charts[key];
    const sig = seriesDefs.map((s) => s.label).join("|");
    if (old && old._key === sig) {
      old.setData(data);
      return old;
    }
    if (old) old.destroy();
    state.charts[key] = makeChart(el, title, sub, seriesDefs, data, withMarkers, yfmt);
    return state.charts[key];
  }

  // -- sections ----------------------------------------------------------------------------
  function renderCards(doc) {
    const el = $("cards");
    if (!doc.brands.length) {
      el.innerHTML = '<p class="quiet">waiting for the first events…</p>';
      return;
    }
    el.innerHTML = doc.brands.map((b) => {
      const rows = b.headline.map((k) =>
        `<dt>${esc(label(k))}</dt><dd data-kpi="${esc(k)}">${fmt(k, b.kpis[k])}</dd>`).join("");
      const badge = b.firing ? `<span class="badge">${b.firing} alert${b.firing > 1 ? "s" : ""}</span>` : "";
      return `<div class="card${b.firing ? " alerting" : ""}" data-brand="${esc(b.brand)}"
        style="--brand:${color(b.brand)}"><h3>${esc(b.brand)}
        <span class="goal">${esc(b.goal || "")}</span>${badge}</h3><dl>${rows}</dl></div>`;
    }).join("");
  }

  function evidence(ev) {
    if (!ev || !ev.samples) return "";
    const samples = ev.samples.slice(0, 3).map((s) => `<li><span class="text">${esc(s.text || "(no text)")}</span>
      <span class="who">— ${esc(s.author || "?")}, ${num(s.followers || 0)} followers, ${esc(s.platform)}${
      s.sentiment != null ? `, sentiment ${Number(s.sentiment).toFixed(2)}` : ""}</span></li>`).join("");
    const tags = (ev.top_hashtags || []).map((t) => `#${esc(t.hashtag)} <span class="who">${t.events}</span>`).join(" · ");
    const authors = (ev.top_authors || []).map((a) => `${esc(a.author)} <span class="who">${num(a.followers)}</span>`).join(" · ");
    return `<div class="evidence"><div><b>Evidence</b> <span class="who">· ${ev.events} events in the window, most followed first</span>
      <ul>${samples || '<li class="quiet">none</li>'}</ul></div>
      <div><b>Top hashtags</b><div>${tags || '<span class="quiet">none</span>'}</div>
      <b>Top authors</b><div>${authors || '<span class="quiet">none</span>'}</div></div></div>`;
  }

  function renderAlerts(doc) {
    const firing = doc.alerts.firing;
    const pill = $("alert-pill");
    pill.textContent = firing.length ? `${firing.length} alert${firing.length > 1 ? "s" : ""} firing` : "no alert";
    pill.className = "pill " + (firing.length ? "bad" : "ok");
    const el = $("alerts");
    if (!firing.length) {
      el.innerHTML = '<p class="quiet">no alert firing</p>';
      return;
    }
    el.innerHTML = firing.map((a) => {
      const figures = [];
      if (a.value != null) figures.push(`value ${num(a.value)}`);
      if (a.baseline != null) figures.push(`baseline ${num(a.baseline)}`);
      if (a.threshold != null) figures.push(`threshold ${num(a.threshold)}`);
      return `<div class="alert ${esc(a.severity)}" data-brand="${esc(a.brand)}" data-rule="${esc(a.rule)}">
        <div class="head"><span class="sev">${esc(a.severity)}${a.crisis ? " · crisis" : ""}</span>
        <span class="brand">${esc(a.brand)}</span><span class="rule">${esc(a.rule)}</span>
        <span class="when">${a.event_time ? `since ${clock(a.event_time)} (event time)` : "firing"}</span></div>
        <div class="summary">${esc(a.summary)}</div>
        <div class="figures">${esc(a.signal || "")}${figures.length ? ": " + figures.join(" · ") : ""}</div>
        ${evidence(a.evidence)}</div>`;
    }).join("");
  }

  function renderCharts(doc) {
    const s = doc.series, box = $("charts");
    for (const [kpi, title, sub, markers] of CHARTS) {
      let el = $("chart-" + kpi);
      if (!el) {
        el = document.createElement("div");
        el.className = "chart";
        el.id = "chart-" + kpi;
        box.appendChild(el);
      }
      const perBrand = s.kpis[kpi] || {};
      const brands = state.brands.filter((b) => b in perBrand);
      if (!s.t.length || !brands.length) {  // nothing counted yet: say so, no empty frame
        if (state.charts[kpi]) state.charts[kpi].destroy();
        delete state.charts[kpi];
        el.innerHTML = `<h3>${esc(title)}<span class="sub"> · ${esc(sub)}</span></h3>
          <p class="quiet">waiting for the first events…</p>`;
        continue;
      }
      const defs = brands.map((b) => ({ label: b, stroke: color(b), width: 2, spanGaps: false,
        points: { show: sparse, size: 5 }, value: (u, v) => fmt(kpi, v) }));
      const data = [s.t, ...brands.map((b) => perBrand[b])];
      upsert(kpi, el, title, ` · ${sub}`, defs, data, markers, (v) => axis(kpi, v));
    }
  }

  function renderPipeline(doc) {
    const p = doc.pipeline;
    upsert("throughput", $("chart-throughput"), "Throughput", " · per second",
      [{ label: "events/s", stroke: "#2563eb", width: 2, points: { show: sparse }, value: (u, v) => fmt("", v) },
       { label: "messages/s", stroke: "#059669", width: 2, points: { show: sparse }, value: (u, v) => fmt("", v) }],
      [p.t, p.events_per_s, p.messages_per_s], false, (v) => axis("", v));
    upsert("lag", $("chart-lag"), "Consumer lag", " · messages not yet processed",
      [{ label: "lag", stroke: "#d97706", width: 2, points: { show: sparse }, value: (u, v) => fmt("", v) }],
      [p.t, p.lag], false, (v) => axis("", v));
    const lastOf = (xs) => { for (let i = xs.length - 1; i >= 0; i--) if (xs[i] != null) return xs[i]; return null; };
    const eps = lastOf(p.events_per_s), lag = lastOf(p.lag);
    $("events-now").innerHTML = `${eps == null ? "–" : num(eps)}<small> events/s</small>`;
    $("lag-now").innerHTML = `${lag == null ? "–" : num(lag)}<small> messages behind</small>`;
    const dl = Object.entries(p.dead_letters || {}).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]);
    $("dead-letters").innerHTML = dl.length
      ? dl.map(([r, v]) => `<tr><td>${esc(r)}</td><td class="num">${num(v)}</td></tr>`).join("")
      : '<tr><td class="quiet">none</td></tr>';
    const bp = $("broker-pill");
    bp.textContent = p.broker_up == null ? "broker ?" : p.broker_up ? "broker up" : "broker down";
    bp.className = "pill " + (p.broker_up == null ? "" : p.broker_up ? "ok" : "bad");
  }

  function render(doc) {
    const n = doc.alerts.firing.length;
    document.title = (n ? `(${n}) ` : "") + "socialpulse · live board";
    const names = new Set([...doc.brands.map((b) => b.brand),
      ...Object.values(doc.series.kpis).flatMap((m) => Object.keys(m))]);
    state.brands = [...names].sort();
    state.markers = doc.alerts.markers || [];
    $("source").textContent = doc.source === "prometheus" ? `from Prometheus ${doc.prometheus || ""}` : "from this worker";
    renderCards(doc);
    renderAlerts(doc);
    renderCharts(doc);
    renderPipeline(doc);
    $("updated").textContent = "updated " + clock(doc.now);
  }

  async function poll() {
    try {
      const r = await fetch("api/board", { cache: "no-store" });
      if (!r.ok) throw new Error(`api/board: HTTP ${r.status}`);
      const doc = await r.json();
      state.last = doc;
      render(doc);
      state.updates += 1;
      state.error = null;
    } catch (e) {
      state.errors += 1;
      state.error = String(e);
      $("updated").innerHTML = `<span class="error">${esc(e)}</span>`;
    }
    setTimeout(poll, EVERY);
  }
  window.addEventListener("resize", () => {
    for (const [key, c] of Object.entries(state.charts)) {
      const el = c.root.parentNode;
      if (el) c.setSize({ width: chartWidth(el), height: 220 });
    }
  });
  poll();
})();
