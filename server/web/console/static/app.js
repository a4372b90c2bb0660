// mailsrv console: posts the page's forms to the JSON admin API and shows
// the server's one-sentence answer next to the field it concerns. No
// framework, no build step; text is only ever set with textContent.
'use strict';

const csrf = () => (document.querySelector('meta[name="csrf"]') || {}).content || '';

async function api(path, args) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf()},
    body: JSON.stringify(args || {}),
  });
  let body = {};
  try { body = await r.json(); } catch (e) { body = {error: 'The server answered ' + r.status + ' without a readable message.'}; }
  if (!r.ok && !body.error) body.error = 'The server answered ' + r.status + '.';
  return body;
}

// argsOf turns a form's named fields into the operation's JSON arguments.
function argsOf(form) {
  const a = {};
  for (const el of form.elements) {
    if (!el.name || el.disabled) continue;
    if (el.type === 'checkbox') { if (el.dataset.type === 'bool') a[el.name] = el.checked; continue; }
    let v = el.value.trim();
    if (v === '') continue;
    if (el.dataset.type === 'number') v = Number(v);
    a[el.name] = v;
  }
  const preset = form.querySelector('select[data-rights]');
  if (preset) {
    a.rights = preset.value === 'custom'
      ? Array.from(form.querySelectorAll('input[data-right]:checked')).map((x) => x.value).join(',')
      : preset.value;
  }
  return a;
}

function clearErrors(form) {
  for (const e of form.querySelectorAll('.err')) e.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
}

// fieldFor picks the field an error sentence is about: one whose data-keys
// word it mentions, else one whose value it quotes, else none (the form).
function fieldFor(form, msg) {
  const m = msg.toLowerCase();
  const fields = Array.from(form.elements).filter((el) => el.name && el.type !== 'hidden');
  for (const el of fields) {
    const keys = (el.dataset.keys || '').split(' ').filter(Boolean);
    if (keys.some((k) => m.includes(k))) return el;
  }
  for (const el of fields) {
    const v = (el.value || '').trim().toLowerCase();
    if (v.length > 2 && m.includes(v)) return el;
  }
  if (form.querySelector('select[data-rights]') && m.includes('rights')) return form.querySelector('select[data-rights]');
  return null;
}

function showError(form, msg) {
  const el = fieldFor(form, msg);
  let slot = null;
  if (el) {
    const name = el.name || (el.dataset.rights !== undefined ? 'rights' : '');
    slot = form.querySelector('.err[data-for="' + CSS.escape(name) + '"]');
    el.setAttribute('aria-invalid', 'true');
  }
  if (!slot) slot = form.querySelector('.err[data-for=""]') || form.querySelector('.err');
  slot.textContent = msg;
  if (el) el.focus();
}

function flash(msg) {
  sessionStorage.setItem('flash', msg);
}

function showFlash() {
  const msg = sessionStorage.getItem('flash');
  if (!msg) return;
  sessionStorage.removeItem('flash');
  const f = document.getElementById('flash');
  if (!f) return;
  f.textContent = msg;
  f.hidden = false;
}

async function submitOp(form) {
  const op = form.dataset.op;
  clearErrors(form);
  const args = argsOf(form);
  const buttons = form.querySelectorAll('button');
  buttons.forEach((b) => { b.disabled = true; });
  const progress = form.querySelector('progress');
  if (progress) progress.hidden = false;
  let res;
  try {
    res = await api('/api/admin/' + encodeURIComponent(op), args);
  } catch (e) {
    res = {error: 'The server could not be reached: check the connection and try again.'};
  }
  buttons.forEach((b) => { b.disabled = false; });
  if (progress) progress.hidden = true;
  if (res.error) { showError(form, res.error); return; }
  let msg = res.message || 'Done.';
  const pwField = form.dataset.password;
  if (pwField && args[pwField]) msg += '. Password (shown once, copy it now): ' + args[pwField];
  flash(msg);
  if (form.dataset.goto && args[form.dataset.goto]) {
    location.assign('/admin/shared/' + encodeURIComponent(args[form.dataset.goto]));
  } else if (form.dataset.gotoPath) {
    location.assign(form.dataset.gotoPath);
  } else {
    location.reload();
  }
}

// Buttons marked data-confirm need a second press within five seconds.
function confirmed(btn) {
  if (btn.dataset.armed) return true;
  btn.dataset.label = btn.textContent;
  btn.dataset.armed = '1';
  btn.textContent = 'Press again to confirm';
  setTimeout(() => { delete btn.dataset.armed; btn.textContent = btn.dataset.label; }, 5000);
  return false;
}

function verifyTable(host, report) {
  host.textContent = '';
  const t = document.createElement('table');
  const head = t.createTHead().insertRow();
  for (const h of ['Result', 'Check', 'What was found', 'Record to publish']) {
    const th = document.createElement('th');
    th.scope = 'col';
    th.textContent = h;
    head.appendChild(th);
  }
  const body = t.createTBody();
  for (const c of report.checks || []) {
    const row = body.insertRow();
    const st = row.insertCell();
    st.textContent = c.status;
    st.className = 'status status-' + c.status.toLowerCase();
    row.insertCell().textContent = c.name;
    const msg = row.insertCell();
    msg.className = 'wrap';
    msg.textContent = c.message + (c.found ? ' (found: ' + c.found + ')' : '');
    const exp = row.insertCell();
    if (c.expected) {
      const pre = document.createElement('pre');
      pre.textContent = c.expected;
      exp.appendChild(pre);
    }
  }
  const wrap = document.createElement('div');
  wrap.className = 'scroll';
  wrap.appendChild(t);
  host.appendChild(wrap);
}

async function verify(btn) {
  const name = btn.dataset.verify;
  const host = document.querySelector('[data-verify-result="' + CSS.escape(name) + '"]');
  btn.disabled = true;
  host.textContent = 'Checking DNS…';
  const res = await api('/api/admin/domain.verify', {name: name});
  btn.disabled = false;
  btn.textContent = 'Check again';
  if (res.error) { host.textContent = res.error; host.className = 'verify page-error'; return; }
  host.className = 'verify';
  verifyTable(host, res);
}

async function generate(btn) {
  const field = document.getElementById(btn.dataset.generate);
  const r = await fetch('/api/password', {credentials: 'same-origin'});
  const body = await r.json();
  if (body.password) { field.value = body.password; field.focus(); }
}

async function login(form) {
  clearErrors(form);
  const res = await api('/api/login', {username: form.username.value.trim(), password: form.password.value});
  if (res.error) { showError(form, res.error); return; }
  location.assign(res.next || '/mail/');
}

document.addEventListener('submit', (ev) => {
  const form = ev.target;
  if (!form.dataset.op && form.id !== 'login' && form.id !== 'logout') return; // filters: a plain GET
  ev.preventDefault();
  const btn = ev.submitter;
  if (btn && btn.hasAttribute('data-confirm') && !confirmed(btn)) return;
  if (form.id === 'login') { login(form); return; }
  if (form.id === 'logout') { api('/api/logout').then(() => location.assign('/')); return; }
  if (form.dataset.op) submitOp(form);
});

document.addEventListener('click', (ev) => {
  const btn = ev.target.closest('button');
  if (!btn) return;
  if (btn.dataset.verify) verify(btn);
  if (btn.dataset.generate) generate(btn);
});

document.addEventListener('change', (ev) => {
  const sel = ev.target;
  if (sel.dataset && sel.dataset.rights !== undefined) {
    const fs = sel.form && sel.form.querySelector('fieldset.custom');
    if (fs) fs.hidden = sel.value !== 'custom';
  }
});

document.addEventListener('DOMContentLoaded', showFlash);
