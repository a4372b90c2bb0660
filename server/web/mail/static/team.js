// mailsrv webmail, team views of a shared mailbox (issue 22): assignment
// and completion, the filters "Assigned to me", "Unassigned", "Done" and
// "Unanswered", "who is replying" and the stale-reply warning. Loaded
// before mail.js, whose state (S) and helpers these functions use when
// called.
'use strict';

// REPLY_HEARTBEAT_MS renews "is replying" (replyHeartbeat in presence.go).
const REPLY_HEARTBEAT_MS = 10000;
const TEAM_VIEWS = {'': 'All', mine: 'Assigned to me', unassigned: 'Unassigned', done: 'Done', unanswered: 'Unanswered'};
const T = {members: {}, replying: {}, beat: null, replyKey: null};

const isShared = () => !!(S.account && S.account.shared);
const canManage = () => !!(S.account && S.account.rights && S.account.rights.manage);

function ago(seconds) {
  const s = Math.max(0, seconds | 0);
  if (s < 3600) return Math.max(1, Math.round(s / 60)) + ' min';
  if (s < 86400) return Math.round(s / 3600) + ' h';
  return Math.round(s / 86400) + ' d';
}

function shortAddr(a) { return (a || '').split('@')[0]; }

// renderTeamViews shows the filter buttons on a shared mailbox's INBOX.
function renderTeamViews() {
  const bar = $('teamviews');
  bar.hidden = !isShared() || S.folder !== 'INBOX' || !!S.query;
  bar.replaceChildren();
  for (const [view, label] of Object.entries(TEAM_VIEWS)) {
    const b = el('button', {type: 'button', textContent: label});
    b.dataset.view = view;
    if ((S.view || '') === view) b.setAttribute('aria-pressed', 'true');
    b.addEventListener('click', () => act(async () => { S.view = view; S.page = 0; await loadList(); }));
    bar.append(b);
  }
}

// teamBadges are a row's assignee, done and age marks.
function teamBadges(m) {
  const out = [];
  if (m.assignee) out.push(el('span', {className: 'assignee', title: m.assignee, textContent: '→ ' + m.assignee}));
  if (m.done) out.push(el('span', {className: 'done', textContent: 'Done'}));
  if (S.view && m.age_seconds != null) out.push(el('span', {className: 'age', textContent: 'waiting ' + ago(m.age_seconds)}));
  out.push(el('span', {className: 'replying'}));
  return el('div', {className: 'team'}, ...out);
}

// --- who is replying ---
function othersReplying(folder, uid) {
  const l = (S.account && T.replying[S.account.address]) || [];
  return l.filter((r) => r.folder === folder && r.uid === uid).map((r) => r.name || shortAddr(r.member));
}

function replyingText(names) {
  return names.length ? names.join(', ') + (names.length > 1 ? ' are replying' : ' is replying') : '';
}

function paintReplying() {
  for (const li of $('messages').children) {
    const span = li.querySelector('.replying');
    if (span) { const t = replyingText(othersReplying(S.folder, Number(li.dataset.uid))); span.textContent = t; span.hidden = !t; }
  }
  const t = S.msg ? replyingText(othersReplying(S.folder, S.msg.uid)) : '';
  $('replying').textContent = t;
  $('replying').hidden = !t;
  const c = T.replyKey ? replyingText(othersReplying(T.replyKey.folder, T.replyKey.uid)) : '';
  $('composereplying').textContent = c ? c + ' to this message too.' : '';
  $('composereplying').hidden = !c;
}

function onReplying(ev) {
  const d = JSON.parse(ev.data || '{}');
  T.replying[d.account] = d.replying || [];
  paintReplying();
}

// startReplying tells the others while a reply to the viewed shared
// message is open; it resolves to the server time the reply was opened.
async function startReplying() {
  stopReplying();
  if (!isShared() || !S.msg) return '';
  const key = {account: S.account.address, folder: S.folder, uid: S.msg.uid};
  T.replyKey = key;
  const beat = () => post('/api/mail/' + enc(key.account) + '/replying', {folder: key.folder, uid: key.uid, active: true});
  const r = await beat();
  T.beat = setInterval(() => beat().catch(() => {}), REPLY_HEARTBEAT_MS);
  paintReplying();
  return r.since || '';
}

function stopReplying() {
  if (T.beat) clearInterval(T.beat);
  T.beat = null;
  const key = T.replyKey;
  T.replyKey = null;
  if (!key) return;
  fetch('/api/mail/' + enc(key.account) + '/replying', {method: 'POST', credentials: 'same-origin', keepalive: true,
    headers: {'X-CSRF-Token': csrf(), 'Content-Type': 'application/json'},
    body: JSON.stringify({folder: key.folder, uid: key.uid, active: false})}).catch(() => {});
  paintReplying();
}

// --- the stale-reply warning ---
function showStale(err) {
  const box = $('stale');
  const list = $('stalereplies');
  list.replaceChildren();
  $('staletext').textContent = err.message;
  for (const r of err.body.stale || []) {
    list.append(el('li', {},
      el('div', {className: 'stalehead', textContent: (r.by ? (r.by_name ? r.by_name + ' <' + r.by + '>' : r.by) + ' as ' : '') + (r.sender ? r.sender + ' for ' : '') + r.from + ' · ' + new Date(r.date).toLocaleString() + ' · ' + r.subject}),
      el('pre', {textContent: r.text || ''})));
  }
  box.hidden = false;
  box.scrollIntoView({block: 'nearest'});
}

function hideStale() { $('stale').hidden = true; $('composeform').dataset.confirmStale = ''; }

// --- assignment and completion in the reader ---
async function loadMembers() {
  if (!isShared()) return [];
  const addr = S.account.address;
  if (!T.members[addr]) T.members[addr] = await get(acctAPI('members'));
  return T.members[addr];
}

async function renderTeamControls() {
  const v = S.msg;
  const show = isShared() && canManage() && !!v;
  for (const id of ['assignme', 'assignto', 'done']) $(id).hidden = !show;
  const info = $('teaminfo');
  const assignee = v ? (v.flags.find((f) => /^\$assigned:/i.test(f)) || '').slice(10) : '';
  const done = !!v && v.flags.includes('$Done');
  info.textContent = [assignee ? 'Assigned to ' + assignee : (isShared() && v ? 'Unassigned' : ''), done ? 'Done' : ''].filter(Boolean).join(' · ');
  info.hidden = !info.textContent;
  if (!show) return;
  $('done').textContent = done ? 'Reopen' : 'Mark done';
  $('assignme').hidden = assignee === document.querySelector('meta[name="user"]').content;
  const sel = $('assignto');
  sel.replaceChildren(el('option', {value: '', textContent: 'Assign to…'}));
  for (const m of await loadMembers()) {
    if (m.address !== assignee) sel.append(el('option', {value: m.address, textContent: m.name ? m.name + ' <' + m.address + '>' : m.address}));
  }
  if (assignee) sel.append(el('option', {value: '-', textContent: 'Unassign'}));
}

async function refreshMessage() {
  if (!S.msg) return;
  const v = await get(acctAPI('message') + '?' + qs({folder: S.folder, uid: S.msg.uid, peek: 1}));
  S.msg.flags = v.flags;
  await renderTeamControls();
}

async function assign(to) {
  await post(acctAPI('assign'), {folder: S.folder, uids: [S.msg.uid], to});
  flash(to ? 'Assigned to ' + to + '.' : 'Unassigned.');
  await refreshMessage();
  await loadList(true);
}

async function toggleDone() {
  const done = S.msg.flags.includes('$Done');
  await post(acctAPI('done'), {folder: S.folder, uids: [S.msg.uid], done: !done});
  flash(done ? 'Open again.' : 'Marked done.');
  await refreshMessage();
  await loadList(true);
}

function onAssigned(ev) {
  const d = JSON.parse(ev.data || '{}');
  const what = (d.subjects || []).map((s) => '“' + (s || '(no subject)') + '”').join(', ');
  flash('Assigned to you in ' + d.account + ': ' + what + (d.by ? ' (by ' + d.by + ')' : ''), 10000);
}

// The per-user choice to be mailed on assignment (store.MemberPrefs).
async function loadSettings() {
  try {
    const st = await get('/api/mail/settings');
    $('assignmail').checked = !!st.assign_mail;
    $('assignmailrow').hidden = false;
  } catch (e) {
    $('assignmailrow').hidden = true;
  }
}

function wireTeam() {
  $('assignmail').onchange = () => act(async () => {
    const st = await post('/api/mail/settings', {assign_mail: $('assignmail').checked});
    flash(st.assign_mail ? 'You will get a mail when a message is assigned to you.' : 'No more mails on assignment (the webmail still tells you).');
  });
  act(loadSettings);
  $('assignme').onclick = () => act(() => assign(document.querySelector('meta[name="user"]').content));
  $('assignto').onchange = () => act(async () => {
    const v = $('assignto').value;
    if (!v) return;
    await assign(v === '-' ? '' : v);
  });
  $('done').onclick = () => act(toggleDone);
  $('sendanyway').onclick = () => { $('composeform').dataset.confirmStale = '1'; send(false); };
  $('stalediscard').onclick = () => { hideStale(); stopReplying(); $('composer').hidden = true; setPane('list'); };
  window.addEventListener('pagehide', stopReplying);
}
