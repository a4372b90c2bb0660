// mailsrv webmail: one page over the JSON API of server/web/mail. No
// framework, no build step; text is only ever set with textContent, and
// message HTML is shown only through the sandboxed frame (/html).
'use strict';

const $ = (id) => document.getElementById(id);
const csrf = () => document.querySelector('meta[name="csrf"]').content;
const S = {accounts: [], account: null, folder: 'INBOX', folders: [], page: 0, list: [], sel: -1, msg: null, query: '', lastEvent: '', view: ''};

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

function flash(text, ms) {
  const f = $('flash');
  f.textContent = text;
  f.hidden = false;
  clearTimeout(flash.t);
  flash.t = setTimeout(() => { f.hidden = true; }, ms || 4000);
}

async function get(path) {
  const r = await fetch(path, {credentials: 'same-origin'});
  if (r.status === 401) { location.href = '/'; throw new Error('not logged in'); }
  const body = await r.json().catch(() => ({error: 'The server answered ' + r.status + '.'}));
  if (!r.ok) throw new Error(body.error || ('The server answered ' + r.status + '.'));
  return body;
}

async function post(path, args, form) {
  const opts = {method: 'POST', credentials: 'same-origin', headers: {'X-CSRF-Token': csrf()}};
  if (form) opts.body = form; else { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(args || {}); }
  const r = await fetch(path, opts);
  const body = await r.json().catch(() => ({error: 'The server answered ' + r.status + '.'}));
  if (!r.ok) {
    const e = new Error(body.error || ('The server answered ' + r.status + '.'));
    e.status = r.status;
    e.body = body;
    throw e;
  }
  return body;
}

// enc encodes a path or query part; "@" stays readable in bookmarks.
const enc = (s) => encodeURIComponent(s).replace(/%40/g, '@');
const acctAPI = (p) => '/api/mail/' + enc(S.account.address) + '/' + p;
const qs = (o) => Object.entries(o).map(([k, v]) => enc(k) + '=' + enc(v)).join('&');

function setPane(p) { document.body.dataset.pane = p; }

// --- URL: /mail/{account}/{folder} ---
function fromURL() {
  const parts = location.pathname.replace(/^\/mail\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  return {account: parts[0] || '', folder: parts.slice(1).join('/') || 'INBOX'};
}
function pushURL(replace) {
  const url = '/mail/' + enc(S.account.address) + '/' + S.folder.split('/').map(enc).join('/');
  if (url !== location.pathname) (replace ? history.replaceState : history.pushState).call(history, null, '', url);
}

// --- accounts and folders ---
async function loadAccounts() {
  S.accounts = await get('/api/mail/accounts');
  const want = (S.account && S.account.address) || fromURL().account;
  S.account = S.accounts.find((a) => a.address === want) || S.accounts[0] || null;
  renderAccounts();
}

function renderAccounts() {
  const ul = $('accounts');
  ul.replaceChildren();
  for (const a of S.accounts) {
    const link = el('a', {href: '/mail/' + enc(a.address) + '/INBOX', className: 'account'}, el('span', {textContent: a.address}));
    link.dataset.address = a.address;
    if (a.shared) link.append(el('span', {className: 'badge', textContent: 'Shared'}));
    if (a.unread) link.append(el('span', {className: 'count', textContent: String(a.unread)}));
    if (S.account && a.address === S.account.address) link.setAttribute('aria-current', 'true');
    link.addEventListener('click', (ev) => { ev.preventDefault(); switchAccount(a.address); });
    ul.append(el('li', {}, link));
  }
  const r = (S.account && S.account.rights) || {};
  const canCompose = document.body.dataset.compose === '1' && !!S.account;
  $('compose').hidden = !canCompose;
  for (const id of ['flag', 'moveto', 'delete']) $(id).hidden = !r.manage;
  for (const id of ['reply', 'replyall', 'forward']) $(id).hidden = !canCompose;
}

async function switchAccount(addr) {
  S.account = S.accounts.find((a) => a.address === addr);
  S.folder = 'INBOX';
  S.page = 0;
  S.query = '';
  S.view = '';
  $('q').value = '';
  renderAccounts();
  pushURL();
  await loadFolders();
  await loadList();
  setPane('list');
}

async function loadFolders() {
  S.folders = await get(acctAPI('folders'));
  if (!S.folders.some((f) => f.name === S.folder)) S.folder = 'INBOX';
  const ul = $('folders');
  ul.replaceChildren();
  for (const f of S.folders) {
    const link = el('a', {href: '/mail/' + enc(S.account.address) + '/' + f.name.split('/').map(enc).join('/')}, el('span', {textContent: f.name}));
    link.dataset.folder = f.name;
    if (f.unread) link.append(el('span', {className: 'count', textContent: String(f.unread)}));
    if (f.name === S.folder) link.setAttribute('aria-current', 'true');
    link.addEventListener('click', (ev) => { ev.preventDefault(); openFolder(f.name); });
    ul.append(el('li', {}, link));
  }
  const mv = $('moveto');
  mv.replaceChildren(el('option', {value: '', textContent: 'Move to…'}));
  for (const f of S.folders) if (f.name !== S.folder) mv.append(el('option', {value: f.name, textContent: f.name}));
  const trash = S.folders.find((f) => f.special_use === '\\Trash');
  $('emptytrash').hidden = !(trash && trash.name === S.folder && S.account.rights.manage && trash.messages > 0);
}

async function openFolder(name) {
  S.folder = name;
  S.page = 0;
  S.query = '';
  S.view = '';
  $('q').value = '';
  pushURL();
  await loadFolders();
  await loadList();
  setPane('list');
}

// --- message list ---
async function loadList(keep) {
  const uid = keep && S.list[S.sel] ? S.list[S.sel].uid : 0;
  if (S.view && (!isShared() || S.folder !== 'INBOX' || S.query)) S.view = '';
  // A live event and a click can each start a load: only the newest one
  // may paint, or an older answer (another view, folder or page) would
  // overwrite it under the new title.
  const seq = S.listSeq = (S.listSeq || 0) + 1;
  const l = S.query
    ? await get(acctAPI('search') + '?' + qs({folder: S.folder, q: S.query}))
    : S.view
      ? await get(acctAPI('team') + '?' + qs({view: S.view}))
      : await get(acctAPI('messages') + '?' + qs({folder: S.folder, page: S.page}));
  if (seq !== S.listSeq) return;
  S.list = l.messages;
  S.sel = uid ? S.list.findIndex((m) => m.uid === uid) : -1;
  $('listtitle').textContent = (S.query ? 'Search: ' + S.query + ' in ' : '') + S.folder + (S.view ? ' · ' + TEAM_VIEWS[S.view] : '') + ' · ' + l.total;
  $('pageinfo').textContent = l.pages > 1 ? (l.page + 1) + '/' + l.pages : '';
  $('prev').hidden = S.query || S.view || S.page === 0;
  $('next').hidden = S.query || S.view || S.page + 1 >= (l.pages || 1);
  renderTeamViews();
  const ul = $('messages');
  ul.replaceChildren();
  S.list.forEach((m, i) => {
    const li = el('li', {className: (m.seen ? '' : 'unread') + (m.flagged ? ' flagged' : '') + (i === S.sel ? ' sel' : '')},
      el('div', {className: 'from'}, el('span', {textContent: S.folder.match(/sent|drafts/i) ? 'To: ' + m.to : m.from}), el('span', {textContent: shortDate(m.date)})),
      el('div', {className: 'subj', textContent: m.subject || '(no subject)'}),
      isShared() ? teamBadges(m) : null);
    li.dataset.uid = m.uid;
    li.addEventListener('click', () => { select(i); act(openMessage); });
    ul.append(li);
  });
  paintReplying();
}

function shortDate(s) {
  const d = new Date(s);
  const now = new Date();
  return d.toDateString() === now.toDateString() ? d.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'}) : d.toLocaleDateString();
}

function select(i) {
  if (i < 0 || i >= S.list.length) return;
  S.sel = i;
  const lis = $('messages').children;
  for (let j = 0; j < lis.length; j++) lis[j].classList.toggle('sel', j === i);
  lis[i].scrollIntoView({block: 'nearest'});
}

// --- reader ---
async function openMessage() {
  const m = S.list[S.sel];
  if (!m) return;
  const v = await get(acctAPI('message') + '?' + qs({folder: S.folder, uid: m.uid}));
  S.msg = v;
  if (!$('composer').hidden) stopReplying();
  hideStale();
  $('composer').hidden = true;
  $('reader').hidden = false;
  setPane('reader');
  const head = $('head');
  head.replaceChildren(...[el('h2', {textContent: v.subject || '(no subject)'}),
    el('div', {textContent: 'From: ' + v.from}), el('div', {textContent: 'To: ' + v.to}),
    v.cc ? el('div', {textContent: 'Cc: ' + v.cc}) : null, el('div', {textContent: new Date(v.date).toLocaleString()})].filter(Boolean));
  $('parseerror').hidden = !v.parse_error;
  $('parseerror').textContent = v.parse_error || '';
  const src = acctAPI('html') + '?' + qs({folder: S.folder, uid: v.uid});
  if (v.html) {
    $('text').hidden = true;
    $('frame').hidden = false;
    $('frame').src = src;
    $('images').hidden = !v.remote_images;
    $('showimages').onclick = () => { $('frame').src = src + '&images=1'; $('images').hidden = true; };
  } else {
    $('frame').hidden = true;
    $('frame').removeAttribute('src');
    $('images').hidden = true;
    $('text').hidden = false;
    $('text').textContent = v.text;
  }
  $('raw').href = acctAPI('raw') + '?' + qs({folder: S.folder, uid: v.uid});
  $('flag').textContent = v.flags.includes('\\Flagged') ? 'Unflag' : 'Flag';
  const ul = $('attachments');
  ul.replaceChildren();
  for (const a of v.attachments) {
    ul.append(el('li', {}, el('a', {href: acctAPI('attachment') + '?' + qs({folder: S.folder, uid: v.uid, part: a.part}), textContent: a.filename + ' (' + a.content_type + ', ' + a.size + ' bytes)', download: a.filename})));
  }
  if (!m.seen) { m.seen = true; const li = $('messages').children[S.sel]; if (li) li.classList.remove('unread'); }
  paintReplying();
  await renderTeamControls();
}

async function act(fn) {
  try { await fn(); } catch (e) { flash(e.message); }
}

async function setFlags(add, remove) {
  const m = S.msg;
  if (!m) return;
  await post(acctAPI('flags'), {folder: S.folder, uids: [m.uid], add: add || [], remove: remove || []});
}

async function deleteCurrent() {
  const m = S.list[S.sel];
  if (!m || !S.account.rights.manage) return;
  await post(acctAPI('delete'), {folder: S.folder, uids: [m.uid]});
  flash('Deleted.');
  $('reader').hidden = true;
  setPane('list');
  await loadList();
}

// --- compose ---
function quote(v) {
  return '\n\nOn ' + new Date(v.date).toLocaleString() + ', ' + v.from + ' wrote:\n' + (v.text || '').split('\n').map((l) => '> ' + l).join('\n');
}

function openCompose(mode) {
  const v = S.msg;
  const f = $('composeform');
  f.reset();
  f.dataset.mode = mode || 'new';
  f.dataset.inReplyTo = '';
  f.dataset.references = '';
  f.dataset.replySince = '';
  f.dataset.replyAnswered = '';
  stopReplying();
  hideStale();
  const from = $('from');
  from.replaceChildren();
  for (const a of S.accounts) if (!a.shared || a.rights.send || a.rights.send_on_behalf) from.append(el('option', {value: a.address, textContent: a.address + (a.shared ? ' (Shared)' : '')}));
  from.value = S.account.address;
  $('fwdparts').replaceChildren();
  $('composeerror').hidden = true;
  if (v && mode && mode !== 'new') {
    const re = /^(re|fwd?):/i;
    if (mode === 'forward') {
      $('subject').value = re.test(v.subject) ? v.subject : 'Fwd: ' + v.subject;
      $('body').value = '\n\n---------- Forwarded message ----------\nFrom: ' + v.from + '\nSubject: ' + v.subject + '\n\n' + (v.text || '');
      $('fwdparts').append(el('li', {textContent: 'The original message is attached.'}));
    } else {
      $('subject').value = /^re:/i.test(v.subject) ? v.subject : 'Re: ' + v.subject;
      $('to').value = v.reply_to || v.from;
      if (mode === 'replyall') {
        const me = S.account.address.toLowerCase();
        const others = [v.to, v.cc].filter(Boolean).join(', ').split(',').map((s) => s.trim()).filter((s) => s && !s.toLowerCase().includes(me));
        $('cc').value = others.join(', ');
      }
      $('body').value = quote(v);
      f.dataset.replyAnswered = v.flags.includes('\\Answered') ? '1' : '0';
      startReplying().then((since) => { f.dataset.replySince = since; }).catch((e) => flash(e.message));
      f.dataset.inReplyTo = v.message_id || '';
      f.dataset.references = ((v.references || '') + ' ' + (v.message_id ? '<' + v.message_id + '>' : '')).trim();
    }
  }
  $('reader').hidden = true;
  $('composer').hidden = false;
  setPane('compose');
  // Focus after the key event that opened the form has been handled, so
  // its character does not land in the field.
  setTimeout(() => {
    const field = mode && mode !== 'new' && mode !== 'forward' ? $('body') : $('to');
    field.focus();
    if (field === $('body')) field.setSelectionRange(0, 0);
  }, 0);
}

function composeData(draft) {
  const f = $('composeform');
  const fd = new FormData();
  for (const k of ['from', 'to', 'cc', 'subject']) fd.append(k, $(k).value);
  fd.append('text', $('body').value);
  if (f.dataset.inReplyTo) fd.append('in_reply_to', f.dataset.inReplyTo);
  if (f.dataset.references) fd.append('references', f.dataset.references);
  if (f.dataset.mode === 'forward' && S.msg) { fd.append('forward_folder', S.folder); fd.append('forward_uid', String(S.msg.uid)); }
  if (f.dataset.mode === 'reply' || f.dataset.mode === 'replyall') {
    fd.append('reply_folder', S.folder);
    fd.append('reply_uid', String(S.msg.uid));
    if (f.dataset.replySince) { fd.append('reply_since', f.dataset.replySince); fd.append('reply_answered', f.dataset.replyAnswered); }
    if (f.dataset.confirmStale === '1') fd.append('confirm_stale', '1');
  }
  if (draft) fd.append('draft', '1');
  let size = 0;
  for (const file of $('files').files) { fd.append('attachment', file, file.name); size += file.size; }
  return {fd, size};
}

async function send(draft) {
  const {fd, size} = composeData(draft);
  const limit = Number(document.body.dataset.maxbytes || 0);
  if (limit && size > limit) {
    $('composeerror').textContent = 'The attachments are ' + size + ' bytes; the limit for a message is ' + limit + ' bytes.';
    $('composeerror').hidden = false;
    return;
  }
  try {
    const r = await post(acctAPI('send'), null, fd);
    flash(draft ? 'Draft saved.' : 'Sent' + (r.as ? ' as ' + r.as : '') + '.');
    if (!draft) { stopReplying(); hideStale(); $('composer').hidden = true; setPane('list'); }
    await loadFolders();
    await loadList(true);
  } catch (e) {
    if (e.status === 409 && e.body && e.body.stale) { showStale(e); return; }
    $('composeerror').textContent = e.message;
    $('composeerror').hidden = false;
  }
}

// --- live updates ---
function listen() {
  const es = new EventSource('/api/mail/events');
  const refresh = async (ev) => {
    const d = JSON.parse(ev.data || '{}');
    await loadAccounts();
    if (S.account && d.account === S.account.address) {
      await loadFolders();
      if (!d.folder || d.folder === S.folder) await loadList(true);
    }
  };
  for (const kind of ['new', 'flags', 'expunge', 'folders']) es.addEventListener(kind, (ev) => act(() => refresh(ev)));
  es.addEventListener('rights', () => act(async () => { await loadAccounts(); if (S.account) { await loadFolders(); await loadList(true); } }));
  es.addEventListener('assigned', (ev) => onAssigned(ev));
  es.addEventListener('replying', (ev) => onReplying(ev));
  es.addEventListener('logout', () => { es.close(); location.href = '/'; });
  es.addEventListener('reset', () => act(async () => { await loadAccounts(); if (S.account) { await loadFolders(); await loadList(true); } }));
}

// --- wiring ---
function keys(ev) {
  if (ev.target.closest('input, textarea, select') || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const r = (S.account && S.account.rights) || {};
  switch (ev.key) {
    case 'j': select(S.sel + 1); break;
    case 'k': select(Math.max(S.sel - 1, 0)); break;
    case 'Enter': case 'o': act(openMessage); break;
    case 'u': $('reader').hidden = true; setPane('list'); break;
    case 'r': if (S.msg && !$('reply').hidden) openCompose('reply'); break;
    case 'a': if (S.msg && !$('replyall').hidden) openCompose('replyall'); break;
    case 'f': if (S.msg && !$('forward').hidden) openCompose('forward'); break;
    case '#': if (r.manage) act(deleteCurrent); break;
    default: return;
  }
  ev.preventDefault();
}

async function start() {
  document.addEventListener('keydown', keys);
  $('menu').onclick = () => setPane(document.body.dataset.pane === 'side' ? 'list' : 'side');
  $('back').onclick = () => { $('reader').hidden = true; setPane('list'); };
  $('prev').onclick = () => act(async () => { S.page--; await loadList(); });
  $('next').onclick = () => act(async () => { S.page++; await loadList(); });
  $('searchform').onsubmit = (ev) => { ev.preventDefault(); S.query = $('q').value.trim(); S.page = 0; act(() => loadList()); };
  $('unread').onclick = () => act(async () => { await setFlags([], ['\\Seen']); await loadList(true); });
  $('flag').onclick = () => act(async () => {
    const on = S.msg.flags.includes('\\Flagged');
    await setFlags(on ? [] : ['\\Flagged'], on ? ['\\Flagged'] : []);
    S.msg.flags = on ? S.msg.flags.filter((x) => x !== '\\Flagged') : S.msg.flags.concat('\\Flagged');
    $('flag').textContent = on ? 'Flag' : 'Unflag';
  });
  $('delete').onclick = () => act(deleteCurrent);
  $('moveto').onchange = () => act(async () => {
    const to = $('moveto').value;
    if (!to) return;
    await post(acctAPI('move'), {folder: S.folder, uids: [S.msg.uid], to});
    flash('Moved to ' + to + '.');
    $('reader').hidden = true;
    await loadList();
  });
  $('emptytrash').onclick = () => act(async () => { const r = await post(acctAPI('empty-trash'), {}); flash('Removed ' + r.removed + ' messages.'); await loadFolders(); await loadList(); });
  for (const id of ['reply', 'replyall', 'forward']) $(id).onclick = () => openCompose($(id).dataset.act);
  $('compose').onclick = () => openCompose('new');
  $('composeform').onsubmit = (ev) => { ev.preventDefault(); send(false); };
  $('savedraft').onclick = () => send(true);
  $('discard').onclick = () => { stopReplying(); hideStale(); $('composer').hidden = true; setPane('list'); };
  wireTeam();
  $('logout').onclick = () => act(async () => { await post('/api/logout', {}); location.href = '/'; });
  window.addEventListener('popstate', () => act(async () => {
    const u = fromURL();
    S.account = S.accounts.find((a) => a.address === u.account) || S.account;
    S.folder = u.folder;
    renderAccounts();
    await loadFolders();
    await loadList();
  }));
  await loadAccounts();
  if (!S.account) { flash('You have no mailbox to read here.'); return; }
  S.folder = fromURL().account === S.account.address ? fromURL().folder : 'INBOX';
  pushURL(true);
  await loadFolders();
  await loadList();
  listen();
}

act(start);
