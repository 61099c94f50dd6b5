// dingoidc admin console (README.md, "Console"). Draws every page from the
// admin API (<issuer>/admin/api/v1, docs/admin-api.md); no inline script,
// no external asset, no innerHTML of data: every text goes in as a text node.
(function () {
  "use strict";
  var body = document.body;
  var base = body.getAttribute("data-base") || "";
  var api = base + "/admin/api/v1";
  var M = JSON.parse(document.getElementById("console-messages").textContent);
  var view = document.getElementById("view");
  var csrf = "";
  var me = null;
  var gen = 0; // the page drawn: page() counts up
  var flash = ""; // a message for the next page drawn (after a write)

  function t(key) { return Object.prototype.hasOwnProperty.call(M, key) ? M[key] : key; }
  function tf(key, vars) { return t(key).replace(/\{(\w+)\}/g, function (_, k) { return vars[k] == null ? "" : String(vars[k]); }); }

  // h builds an element: h("a", {href: "#"}, "text", child…).
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        var v = attrs[k];
        if (v == null || v === false) return;
        if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
        else if (k === "text") el.textContent = v;
        else if (v === true) el.setAttribute(k, "");
        else el.setAttribute(k, v);
      });
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }

  var seq = 0;
  function uid(p) { seq++; return p + "-" + seq; }

  // call asks the API; it resolves to {status, data, etag} and never
  // rejects on an HTTP error (the pages show those).
  function call(method, path, data, headers) {
    var g = gen;
    var opts = { method: method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
    if (data !== undefined) { opts.headers["Content-Type"] = "application/json"; opts.body = JSON.stringify(data); }
    Object.keys(headers || {}).forEach(function (k) { opts.headers[k] = headers[k]; });
    return fetch(api + path, opts).then(function (r) {
      var ct = r.headers.get("Content-Type") || "";
      var p = ct.indexOf("json") >= 0 ? r.json().catch(function () { return null; }) : Promise.resolve(null);
      return p.then(function (d) { return { status: r.status, data: d, etag: r.headers.get("ETag") }; });
    }, function () { return { status: 0, data: null }; }).then(function (res) {
      // An answer for a page no longer shown is dropped, so it cannot
      // draw into the page that replaced it.
      return g === gen ? res : new Promise(function () {});
    });
  }

  // problem is the text of a failed answer.
  function problem(res) {
    if (res.status === 0) return t("err_network");
    if (res.status === 401) return t("err_401");
    if (res.status === 409) return t("err_409");
    if (res.status === 503) return t("err_503");
    var d = res.data || {};
    var s = d.error_description || d.error || ("HTTP " + res.status);
    if (d.field) s += " (" + d.field + ")";
    return tf("err_other", { status: res.status, text: s });
  }
  function alertBox(text, kind) {
    return h("p", { "class": "alert " + (kind || "error"), role: kind === "ok" ? "status" : "alert" }, text);
  }

  function fmtTime(v) {
    if (!v) return "—";
    var d = new Date(v);
    if (isNaN(d.getTime())) return String(v);
    return d.toLocaleString(body.getAttribute("data-locale") || undefined);
  }
  function lines(s) { return s.split(/[\n,]/).map(function (x) { return x.trim(); }).filter(Boolean); }
  function list(a) { return (a && a.length) ? a.join(", ") : "—"; }

  function copyButton(getText, label) {
    var b = h("button", { type: "button", "class": "small copy", "aria-label": label ? tf("copy_named", { name: label }) : t("copy") }, t("copy"));
    b.addEventListener("click", function () {
      var text = getText();
      var done = function () { b.textContent = t("copied"); setTimeout(function () { b.textContent = t("copy"); }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { fallbackCopy(text); done(); });
      } else { fallbackCopy(text); done(); }
    });
    return b;
  }
  function fallbackCopy(text) {
    var ta = h("textarea", { "class": "offscreen", "aria-hidden": "true" });
    ta.value = text;
    document.body.appendChild(ta);
    ta.select();
    try { document.execCommand("copy"); } catch (e) { /* the value stays selectable on the page */ }
    document.body.removeChild(ta);
  }

  // field is a labelled input; kind: text, textarea, checkbox, select.
  function field(name, labelKey, kind, value, extra) {
    var id = uid("f-" + name);
    var hint = extra && extra.hint ? h("span", { "class": "hint", id: id + "-hint" }, t(extra.hint)) : null;
    var input;
    if (kind === "textarea") {
      input = h("textarea", { id: id, name: name, rows: 3, "aria-describedby": hint ? id + "-hint" : null });
      input.value = (value || []).join("\n");
    } else if (kind === "checkbox") {
      input = h("input", { type: "checkbox", id: id, name: name, "aria-describedby": hint ? id + "-hint" : null });
      input.checked = !!value;
      return h("div", { "class": "field check" }, input, h("label", { "for": id }, t(labelKey)), hint);
    } else if (kind === "select") {
      input = h("select", { id: id, name: name });
      extra.options.forEach(function (o) { var op = h("option", { value: o[0] }, o[1]); if (o[0] === value) op.selected = true; input.appendChild(op); });
    } else {
      input = h("input", { type: kind || "text", id: id, name: name, autocomplete: "off", "aria-describedby": hint ? id + "-hint" : null });
      input.value = value || "";
      if (extra && extra.readonly) input.readOnly = true;
      if (extra && extra.required) input.required = true;
    }
    return h("div", { "class": "field" }, h("label", { "for": id }, t(labelKey)), input, hint);
  }
  function val(form, name) { var el = form.elements[name]; return el.type === "checkbox" ? el.checked : el.value; }

  function page(name, titleText) {
    gen++;
    view.setAttribute("data-page", name);
    view.textContent = "";
    document.title = titleText + " · " + t("console_title");
    var h1 = h("h1", { id: "title" }, titleText);
    view.appendChild(h1);
    if (flash) { view.appendChild(alertBox(flash, "ok")); flash = ""; }
    return view;
  }
  function table(headKeys, rows, caption) {
    return h("div", { "class": "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
      h("table", null, h("caption", { "class": "offscreen" }, caption),
        h("thead", null, h("tr", null, headKeys.map(function (k) { return h("th", { scope: "col" }, t(k)); }))),
        h("tbody", null, rows.length ? rows : h("tr", null, h("td", { colspan: headKeys.length, "class": "muted" }, t("empty"))))));
  }
  function row() { var tr = h("tr"); for (var i = 0; i < arguments.length; i++) add(tr, h("td", null, arguments[i])); return tr; }

  // confirmButton asks again in place before doing a destructive thing.
  function confirmButton(labelKey, askKey, action, id) {
    var wrap = h("span", { "class": "confirm" });
    var b = h("button", { type: "button", "class": "small danger", id: id }, t(labelKey));
    b.addEventListener("click", function () {
      wrap.textContent = "";
      var yes = h("button", { type: "button", "class": "small danger", id: id ? id + "-yes" : null }, t("confirm_yes"));
      var no = h("button", { type: "button", "class": "small secondary" }, t("cancel"));
      yes.addEventListener("click", function () { yes.disabled = true; action(); });
      no.addEventListener("click", function () { wrap.textContent = ""; wrap.appendChild(b); b.focus(); });
      add(wrap, [h("span", { role: "alert" }, t(askKey) + " "), yes, " ", no]);
      yes.focus();
    });
    wrap.appendChild(b);
    return wrap;
  }

  // ---- Apps ----
  var integrations = ["grafana", "gitlab", "gitea", "argocd", "harbor", "jenkins", "jumpserver", "kubernetes", "oauth2-proxy"];

  function appsPage() {
    var v = page("apps", t("nav_apps"));
    v.appendChild(h("p", null, h("a", { "class": "button inline", href: "#/apps/new", id: "new-app" }, t("app_new"))));
    call("GET", "/clients").then(function (res) {
      if (res.status !== 200) return v.appendChild(alertBox(problem(res)));
      var rows = (res.data.items || []).map(function (c) {
        return h("tr", { "data-client": c.id },
          h("td", null, h("a", { href: "#/apps/" + encodeURIComponent(c.id) }, c.name || c.id)),
          h("td", null, h("code", null, c.id)),
          h("td", null, c.upstreams && c.upstreams.length ? c.upstreams.join(", ") : t("all_upstreams")),
          h("td", null, c.static ? t("app_static") : (c.public ? t("app_public") : t("app_confidential"))));
      });
      v.appendChild(table(["col_name", "col_id", "col_upstreams", "col_kind"], rows, t("nav_apps")));
    });
  }

  function upstreamChoices(selected, done) {
    call("GET", "/upstreams").then(function (res) {
      var ids = res.status === 200 ? (res.data.items || []).map(function (u) { return u.id; }) : [];
      done(ids, selected || []);
    });
  }

  function appForm(c, isNew, onSubmit) {
    var form = h("form", { "class": "form", novalidate: true });
    var msg = h("div", { "aria-live": "polite" });
    add(form, [
      isNew ? field("id", "f_id", "text", "", { hint: "f_id_hint" }) : field("id", "f_id", "text", c.id, { readonly: true }),
      field("name", "f_name", "text", c.name, { required: true }),
      field("redirect_uris", "f_redirect_uris", "textarea", c.redirect_uris, { hint: "f_lines_hint" }),
      field("post_logout_redirect_uris", "f_post_logout", "textarea", c.post_logout_redirect_uris, { hint: "f_lines_hint" }),
      field("public", "f_public", "checkbox", c.public, { hint: "f_public_hint" })
    ]);
    var ups = h("fieldset", { "class": "field" }, h("legend", null, t("f_upstreams")), h("span", { "class": "hint" }, t("f_upstreams_hint")));
    form.appendChild(ups);
    upstreamChoices(c.upstreams, function (ids, sel) {
      ids.concat(sel.filter(function (s) { return ids.indexOf(s) < 0; })).forEach(function (u) {
        var id = uid("up");
        var cb = h("input", { type: "checkbox", id: id, name: "upstream", value: u });
        cb.checked = sel.indexOf(u) >= 0;
        ups.appendChild(h("div", { "class": "check" }, cb, h("label", { "for": id }, u)));
      });
    });
    add(form, [
      field("allowed_groups", "f_groups", "textarea", c.allowed_groups, { hint: "f_groups_hint" }),
      field("allowed_tenants", "f_tenants", "textarea", c.allowed_tenants, { hint: "f_tenants_hint" }),
      field("legacy_api", "f_legacy", "checkbox", c.legacy_api, { hint: "f_legacy_hint" }),
      field("access_token_format", "f_token_format", "select", c.access_token_format || "jwt", { options: [["jwt", "JWT"], ["opaque", t("f_opaque")]] })
    ]);
    if (isNew) form.appendChild(field("integration", "f_integration", "select", "grafana", { options: [["", t("f_integration_none")]].concat(integrations.map(function (a) { return [a, a]; })) }));
    var submit = h("button", { type: "submit", id: "save" }, isNew ? t("app_create") : t("save"));
    add(form, [msg, submit]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var input = {
        name: val(form, "name").trim(),
        redirect_uris: lines(val(form, "redirect_uris")),
        post_logout_redirect_uris: lines(val(form, "post_logout_redirect_uris")),
        "public": val(form, "public"),
        upstreams: Array.prototype.filter.call(form.querySelectorAll("input[name=upstream]"), function (x) { return x.checked; }).map(function (x) { return x.value; }),
        allowed_groups: lines(val(form, "allowed_groups")),
        allowed_tenants: lines(val(form, "allowed_tenants")),
        legacy_api: val(form, "legacy_api"),
        access_token_format: val(form, "access_token_format")
      };
      if (isNew && val(form, "id").trim()) input.id = val(form, "id").trim();
      submit.disabled = true;
      onSubmit(input, form, function (res) {
        submit.disabled = false;
        msg.textContent = "";
        msg.appendChild(alertBox(problem(res)));
        if (res.status === 409) msg.appendChild(h("button", { type: "button", "class": "small", id: "reload", onclick: function () { route(); } }, t("reload")));
        var f = res.data && res.data.field && form.elements[res.data.field];
        if (f && f.focus) f.focus();
      });
    });
    return form;
  }

  function newAppPage() {
    var v = page("app-new", t("app_new"));
    v.appendChild(appForm({}, true, function (input, form, fail) {
      var app = val(form, "integration");
      call("POST", "/clients", input).then(function (res) {
        if (res.status !== 201 && res.status !== 200) return fail(res);
        createdPage(res.data, app);
      });
    }));
  }

  // secretBox shows a secret once, with a copy button.
  function secretBox(secret) {
    return h("div", { "class": "secret", id: "secret-box" },
      h("p", null, h("strong", null, t("secret_once"))),
      h("p", { "class": "copyline" }, h("code", { id: "client-secret" }, secret), " ", copyButton(function () { return secret; }, t("f_secret"))));
  }

  function createdPage(c, app) {
    var v = page("app-created", t("app_created"));
    v.appendChild(h("p", null, tf("app_created_text", { name: c.name || c.id }), " ", h("code", { id: "client-id" }, c.id), " ", copyButton(function () { return c.id; }, t("f_id"))));
    if (c.secret) v.appendChild(secretBox(c.secret));
    var setup = h("section", { "aria-labelledby": "setup-title" });
    v.appendChild(setup);
    setupSection(setup, c.id, app, c.secret);
    v.appendChild(h("p", null, h("a", { href: "#/apps/" + encodeURIComponent(c.id), id: "to-app" }, t("app_open")), " · ", h("a", { href: "#/apps" }, t("back_to_apps"))));
    view.focus();
  }

  // setupSection shows the settings for one integration; right after the
  // app is registered (secret known) the secret replaces its placeholder.
  function setupSection(sec, id, app, secret) {
    sec.textContent = "";
    var sel = field("setup-app", "f_integration", "select", app || "", { options: [["", t("f_integration_none")]].concat(integrations.map(function (a) { return [a, a]; })) });
    sec.appendChild(h("h2", { id: "setup-title" }, t("setup_title")));
    sec.appendChild(sel);
    var out = h("div", { id: "setup", "aria-live": "polite" });
    sec.appendChild(out);
    var select = sel.querySelector("select");
    function load() {
      out.textContent = "";
      if (!select.value) return;
      call("GET", "/clients/" + encodeURIComponent(id) + "/setup?app=" + encodeURIComponent(select.value)).then(function (res) {
        out.textContent = "";
        if (res.status !== 200) return out.appendChild(alertBox(problem(res)));
        var s = res.data;
        if (secret) {
          (s.settings || []).forEach(function (x) { if (x.name === "client_secret") x.value = secret; });
          if (s.text) s.text = s.text.split("CLIENT_SECRET").join(secret);
        }
        out.setAttribute("data-app", s.app);
        out.appendChild(h("h3", null, s.title || s.app));
        var rows = (s.settings || []).map(function (x) {
          return h("tr", null, h("th", { scope: "row" }, x.name), h("td", null, h("code", { "class": "setting-value" }, x.value)), h("td", null, copyButton(function () { return x.value; }, x.name)));
        });
        out.appendChild(h("div", { "class": "table-wrap", tabindex: "0", role: "region", "aria-label": t("setup_title") },
          h("table", { "class": "settings" }, h("thead", null, h("tr", null, h("th", { scope: "col" }, t("col_setting")), h("th", { scope: "col" }, t("col_value")), h("th", { scope: "col" }, h("span", { "class": "offscreen" }, t("copy"))))), h("tbody", null, rows))));
        if (s.text) {
          out.appendChild(h("p", null, t("setup_snippet"), " ", copyButton(function () { return s.text; }, t("setup_snippet"))));
          out.appendChild(h("pre", { id: "setup-text", tabindex: "0" }, s.text));
        }
        if (s.doc) out.appendChild(h("p", { "class": "muted" }, tf("setup_doc", { doc: s.doc })));
      });
    }
    select.addEventListener("change", load);
    load();
  }

  function appPage(id) {
    var v = page("app", t("app_title"));
    call("GET", "/clients/" + encodeURIComponent(id)).then(function (res) {
      if (res.status !== 200) return v.appendChild(alertBox(problem(res)));
      var c = res.data, etag = res.etag;
      v.querySelector("h1").textContent = c.name || c.id;
      v.appendChild(h("p", { "class": "muted" }, tf("app_meta", { created: fmtTime(c.created_at), updated: fmtTime(c.updated_at) })));
      var actions = h("div", { "class": "actions", "aria-live": "polite" });
      if (c.static) {
        v.appendChild(alertBox(t("app_static_text"), "info"));
      } else {
        v.appendChild(appForm(c, false, function (input, form, fail) {
          call("PUT", "/clients/" + encodeURIComponent(id), input, etag ? { "If-Match": etag } : {}).then(function (r) {
            if (r.status !== 200) return fail(r);
            etag = r.etag || etag;
            var m = form.querySelector("[aria-live]");
            m.textContent = "";
            m.appendChild(alertBox(t("saved"), "ok"));
            form.querySelector("button[type=submit]").disabled = false;
          });
        }));
        if (!c.public) {
          actions.appendChild(confirmButton("secret_rotate", "secret_rotate_ask", function () {
            call("POST", "/clients/" + encodeURIComponent(id) + "/secret").then(function (r) {
              var old = document.getElementById("secret-box");
              if (old) old.remove();
              if (r.status !== 200) return actions.appendChild(alertBox(problem(r)));
              actions.appendChild(secretBox(r.data.secret));
            });
          }, "rotate-secret"));
          actions.appendChild(document.createTextNode(" "));
        }
        actions.appendChild(confirmButton("app_delete", "app_delete_ask", function () {
          call("DELETE", "/clients/" + encodeURIComponent(id), undefined, etag ? { "If-Match": etag } : {}).then(function (r) {
            if (r.status !== 204 && r.status !== 200) return actions.appendChild(alertBox(problem(r)));
            location.hash = "#/apps";
          });
        }, "delete-app"));
        v.appendChild(h("h2", null, t("app_actions")));
        v.appendChild(actions);
      }
      var setup = h("section", { "aria-labelledby": "setup-title" });
      v.appendChild(setup);
      setupSection(setup, id, "");
    });
  }

  // ---- People ----
  function peoplePage(q) {
    var v = page("people", t("nav_people"));
    var form = h("form", { "class": "filters", role: "search" });
    var f = field("q", "people_search", "search", q.q || "", { hint: "people_search_hint" });
    add(form, [f, h("button", { type: "submit", id: "search" }, t("search"))]);
    form.addEventListener("submit", function (e) { e.preventDefault(); location.hash = "#/people?q=" + encodeURIComponent(val(form, "q")); });
    v.appendChild(form);
    var out = h("div");
    v.appendChild(out);
    pager(out, "/users", { q: q.q || "" }, ["col_name", "col_account", "col_upstream", "col_last_login", "col_status"], function (u) {
      return h("tr", { "data-user": u.id },
        h("td", null, h("a", { href: "#/people/" + encodeURIComponent(u.id) }, u.name || u.id)),
        h("td", null, h("code", null, u.external_id || u.id)),
        h("td", null, u.upstream), h("td", null, fmtTime(u.last_login_at)),
        h("td", null, u.disabled ? t("disabled") : t("active")));
    }, t("nav_people"));
  }

  // pager lists path's items with the query, "more" follows next_cursor.
  function pager(out, path, q, head, mkrow, caption) {
    var tbody, more;
    function load(cursor) {
      var params = Object.keys(q).filter(function (k) { return q[k]; }).map(function (k) { return k + "=" + encodeURIComponent(q[k]); });
      if (cursor) params.push("cursor=" + encodeURIComponent(cursor));
      params.push("limit=50");
      call("GET", path + "?" + params.join("&")).then(function (res) {
        if (res.status !== 200) return out.appendChild(alertBox(problem(res)));
        var rows = (res.data.items || []).map(mkrow);
        if (!tbody) {
          var tw = table(head, rows, caption);
          tbody = tw.querySelector("tbody");
          out.appendChild(tw);
        } else add(tbody, rows);
        if (more) more.remove();
        more = null;
        if (res.data.next_cursor) {
          more = h("button", { type: "button", "class": "secondary", id: "more" }, t("more"));
          more.addEventListener("click", function () { more.disabled = true; load(res.data.next_cursor); });
          out.appendChild(more);
        }
      });
    }
    load("");
  }

  function personPage(id) {
    var v = page("person", t("person_title"));
    var msg = h("div", { "aria-live": "polite", id: "person-msg" });
    call("GET", "/users/" + encodeURIComponent(id)).then(function (res) {
      if (res.status !== 200) return v.appendChild(alertBox(problem(res)));
      var u = res.data, c = u.claims || {};
      v.querySelector("h1").textContent = c.name || u.id;
      var dl = h("dl", { "class": "facts" });
      [["col_id", u.id], ["col_upstream", u.upstream], ["col_account", u.external_id], ["col_status", u.disabled ? t("disabled") : t("active")],
        ["col_created", fmtTime(u.created_at)], ["col_last_login", fmtTime(u.last_login_at)]].forEach(function (p) {
        add(dl, [h("dt", null, t(p[0])), h("dd", { "data-fact": p[0] }, p[1] || "—")]);
      });
      v.appendChild(dl);
      v.appendChild(msg);
      var act = function (path, method, okKey) {
        return function () {
          call(method || "POST", path).then(function (r) {
            if (r.status !== 204 && r.status !== 200) { msg.textContent = ""; return msg.appendChild(alertBox(problem(r))); }
            flash = t(okKey);
            route();
          });
        };
      };
      var p = "/users/" + encodeURIComponent(id);
      v.appendChild(h("div", { "class": "actions" },
        u.disabled ? h("button", { type: "button", "class": "small", id: "enable", onclick: act(p + "/enable", "POST", "enabled_ok") }, t("enable"))
          : confirmButton("disable", "disable_ask", act(p + "/disable", "POST", "disabled_ok"), "disable"),
        " ", confirmButton("revoke_all", "revoke_all_ask", act(p + "/revoke", "POST", "revoked_ok"), "revoke-all")));
      v.appendChild(h("h2", null, t("person_grants")));
      v.appendChild(table(["col_app", "col_scopes", "col_auth_time", "col_expires", "col_actions"], (u.grants || []).map(function (g) {
        return h("tr", { "data-grant": g.id }, h("td", null, g.client_name || g.client_id), h("td", null, Array.isArray(g.scopes) ? g.scopes.join(" ") : g.scopes),
          h("td", null, fmtTime(g.auth_time)), h("td", null, fmtTime(g.expires_at)),
          h("td", null, confirmButton("revoke", "revoke_ask", act(p + "/grants/" + encodeURIComponent(g.id), "DELETE", "revoked_ok"))));
      }), t("person_grants")));
      v.appendChild(h("h2", null, t("person_sessions")));
      v.appendChild(table(["col_id", "col_upstream", "col_auth_time", "col_expires"], (u.sessions || []).map(function (s) {
        return h("tr", { "data-session": s.id }, h("td", null, h("code", null, s.id)), h("td", null, s.upstream), h("td", null, fmtTime(s.auth_time)), h("td", null, fmtTime(s.expires_at)));
      }), t("person_sessions")));
      v.appendChild(h("h2", null, t("person_claims")));
      v.appendChild(h("pre", { id: "claims", tabindex: "0" }, JSON.stringify(c, null, 2)));
      v.appendChild(h("p", null, h("a", { href: "#/signins?user=" + encodeURIComponent(u.id) }, t("person_signins"))));
    });
  }

  // ---- Logs ----
  function filterForm(v, hashBase, q, fields) {
    var form = h("form", { "class": "filters", "aria-label": t("filters") });
    fields.forEach(function (f) {
      var kind = f[2] || "text";
      var el = field(f[0], f[1], kind, kind === "select" ? (q[f[0]] || "") : q[f[0]], f[3]);
      form.appendChild(el);
    });
    add(form, [h("button", { type: "submit", id: "filter" }, t("filter"))]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var params = fields.map(function (f) { var x = val(form, f[0]); return x ? f[0] + "=" + encodeURIComponent(fromInput(f[2], x)) : ""; }).filter(Boolean);
      location.hash = hashBase + (params.length ? "?" + params.join("&") : "");
    });
    v.appendChild(form);
    return form;
  }
  // Time filters: the datetime-local input is local time; the API gets RFC 3339.
  function fromInput(kind, x) { return kind === "datetime-local" ? new Date(x).toISOString() : x; }
  function toInputQ(q, names) {
    var out = {};
    Object.keys(q).forEach(function (k) {
      out[k] = q[k];
      if (names.indexOf(k) >= 0 && q[k]) {
        var d = new Date(q[k]);
        if (!isNaN(d.getTime())) out[k] = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
      }
    });
    return out;
  }

  function signinsPage(q) {
    var v = page("signins", t("nav_signins"));
    filterForm(v, "#/signins", toInputQ(q, ["from", "to"]), [["user", "col_person"], ["client", "col_app"], ["upstream", "col_upstream"],
      ["result", "col_result", "select", { options: [["", t("any")], ["success", t("result_success")], ["sso", t("result_sso")], ["refused", t("result_refused")], ["refresh_refused", t("result_refresh_refused")], ["logout", t("result_logout")]] }],
      ["ip", "col_ip"], ["from", "f_from", "datetime-local"], ["to", "f_to", "datetime-local"]]);
    var params = Object.keys(q).filter(function (k) { return q[k]; }).map(function (k) { return k + "=" + encodeURIComponent(q[k]); }).join("&");
    v.appendChild(h("p", null, h("a", { "class": "button inline secondary", id: "csv", href: api + "/signins.csv" + (params ? "?" + params : ""), download: "signins.csv" }, t("csv"))));
    var out = h("div");
    v.appendChild(out);
    pager(out, "/signins", q, ["col_time", "col_person", "col_app", "col_upstream", "col_result", "col_ip", "col_agent"], function (e) {
      return h("tr", { "data-signin": e.id, "data-result": e.result },
        h("td", null, fmtTime(e.time)),
        h("td", null, e.user_id ? h("a", { href: "#/people/" + encodeURIComponent(e.user_id) }, e.user_id) : "—"),
        h("td", null, e.client_id || "—"), h("td", null, e.upstream || "—"),
        h("td", null, t("result_" + e.result) === "result_" + e.result ? e.result : t("result_" + e.result), e.reason ? h("span", { "class": "muted" }, " (" + e.reason + ")") : null),
        h("td", null, e.client_ip || "—"), h("td", { "class": "agent" }, e.user_agent || "—"));
    }, t("nav_signins"));
  }

  function auditPage(q) {
    var v = page("audit", t("nav_audit"));
    filterForm(v, "#/audit", toInputQ(q, ["from", "to"]), [["actor", "col_actor"], ["action", "col_action"], ["target", "col_target"], ["from", "f_from", "datetime-local"], ["to", "f_to", "datetime-local"]]);
    var out = h("div");
    v.appendChild(out);
    pager(out, "/audit", q, ["col_time", "col_actor", "col_action", "col_target", "col_details"], function (e) {
      return h("tr", null, h("td", null, fmtTime(e.time)), h("td", null, e.actor), h("td", null, h("code", null, e.action)), h("td", null, e.target || "—"),
        h("td", null, e.details && Object.keys(e.details).length ? h("code", { "class": "details" }, JSON.stringify(e.details)) : "—"));
    }, t("nav_audit"));
  }

  // ---- Keys and upstreams ----
  function keysPage() {
    var v = page("keys", t("nav_keys"));
    var msg = h("div", { "aria-live": "polite" });
    v.appendChild(h("p", null, t("keys_text")));
    v.appendChild(h("div", { "class": "actions" }, confirmButton("keys_rotate", "keys_rotate_ask", function () {
      call("POST", "/keys/rotate").then(function (r) {
        if (r.status !== 204 && r.status !== 200) { msg.textContent = ""; return msg.appendChild(alertBox(problem(r))); }
        flash = t("keys_rotated");
        route();
      });
    }, "rotate-keys")));
    v.appendChild(msg);
    call("GET", "/keys").then(function (res) {
      if (res.status !== 200) return v.appendChild(alertBox(problem(res)));
      v.appendChild(table(["col_kid", "col_alg", "col_state", "col_created", "col_active_from", "col_retire"], (res.data.items || []).map(function (k) {
        return h("tr", { "data-kid": k.kid }, h("td", null, h("code", null, k.kid)), h("td", null, k.algorithm), h("td", null, t("key_" + k.state)),
          h("td", null, fmtTime(k.created_at)), h("td", null, fmtTime(k.active_from)), h("td", null, fmtTime(k.retire_at)));
      }), t("nav_keys")));
    });
  }

  function upstreamsPage() {
    var v = page("upstreams", t("nav_upstreams"));
    call("GET", "/upstreams").then(function (res) {
      if (res.status !== 200) return v.appendChild(alertBox(problem(res)));
      v.appendChild(table(["col_id", "col_type", "col_name", "col_last_success", "col_last_failure", "col_token_age", "col_health"], (res.data.items || []).map(function (u) {
        var ok = u.last_success && (!u.last_failure || new Date(u.last_success) >= new Date(u.last_failure));
        var health = !u.last_success && !u.last_failure ? t("health_unknown") : (ok ? t("health_ok") : t("health_failing"));
        return h("tr", { "data-upstream": u.id }, h("td", null, h("code", null, u.id)), h("td", null, u.type), h("td", null, u.name),
          h("td", null, fmtTime(u.last_success)), h("td", null, fmtTime(u.last_failure), u.last_failure_kind ? " (" + u.last_failure_kind + ")" : ""),
          h("td", null, u.app_token_age_seconds == null ? "—" : tf("seconds", { n: Math.round(u.app_token_age_seconds) })),
          h("td", { "class": ok ? "ok" : "" }, health));
      }), t("nav_upstreams")));
    });
  }

  // ---- States and routing ----
  function signinPage() {
    gen++;
    view.setAttribute("data-page", "signin");
    view.textContent = "";
    add(view, [h("h1", { id: "title" }, t("signin_title")), h("p", null, t("signin_text")),
      h("a", { "class": "button", id: "login", href: base + "/admin/login?ui_locales=" + encodeURIComponent(body.getAttribute("data-locale")) }, t("signin_button"))]);
  }
  function refusedPage(text) {
    gen++;
    view.setAttribute("data-page", "refused");
    view.textContent = "";
    add(view, [h("h1", { id: "title" }, t("refused_title")), h("p", null, text || t("refused_text_unnamed")),
      h("a", { "class": "button", id: "refused-logout", href: base + "/admin/logout" }, t("logout"))]);
  }

  function parseHash() {
    var hs = location.hash.replace(/^#\/?/, "");
    var qi = hs.indexOf("?"), path = qi >= 0 ? hs.slice(0, qi) : hs, q = {};
    if (qi >= 0) hs.slice(qi + 1).split("&").forEach(function (kv) {
      var i = kv.indexOf("=");
      if (i > 0) q[decodeURIComponent(kv.slice(0, i))] = decodeURIComponent(kv.slice(i + 1).replace(/\+/g, " "));
    });
    return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), q: q };
  }

  function route() {
    if (!me) return;
    var r = parseHash(), p = r.parts;
    var section = p[0] || "apps";
    Array.prototype.forEach.call(document.querySelectorAll("#nav a"), function (a) {
      if (a.getAttribute("data-nav") === section) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
    });
    if (section === "apps" && p[1] === "new") newAppPage();
    else if (section === "apps" && p[1]) appPage(p[1]);
    else if (section === "people" && p[1]) personPage(p[1]);
    else if (section === "people") peoplePage(r.q);
    else if (section === "signins") signinsPage(r.q);
    else if (section === "audit") auditPage(r.q);
    else if (section === "keys") keysPage();
    else if (section === "upstreams") upstreamsPage();
    else appsPage();
  }

  function start() {
    var state = body.getAttribute("data-state");
    if (state !== "app") return; // the server drew the sign-in or refusal page
    call("GET", "/me").then(function (res) {
      if (res.status === 401) return signinPage();
      if (res.status === 403) return refusedPage();
      if (res.status !== 200) { view.textContent = ""; return view.appendChild(alertBox(problem(res))); }
      me = res.data;
      csrf = me.csrf_token || "";
      document.getElementById("who-name").textContent = me.name || me.subject;
      document.getElementById("who").hidden = false;
      document.getElementById("nav").hidden = false;
      window.addEventListener("hashchange", function () { route(); view.focus(); });
      route();
    });
  }
  start();
})();
