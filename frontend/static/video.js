/* Video session page: preview and device choice, signalling through the hub's Socket.IO
   namespace /video, one RTCPeerConnection per other participant (browsers send media to each
   other, or through TURN), sender bitrate cap, audio-only, quality from getStats(), chat fallback.
   A dropped connection rejoins the same session; peers restart ICE instead of starting over. */
(function () {
  "use strict";
  var app = document.getElementById("video-app");
  if (!app) { return; }
  var T = JSON.parse(document.getElementById("video-text").textContent);
  var CSRF = document.querySelector('meta[name="csrf-token"]').content;
  var SESSION = parseInt(app.dataset.sessionId, 10);
  var CONSULT = parseInt(app.dataset.consultId, 10);
  var GUEST = app.dataset.guestToken || null;
  var NAMES = JSON.parse(document.getElementById("video-people").textContent);

  function $(id) { return document.getElementById(id); }
  function fill(text, values) {
    return String(text).replace(/\{(\w+)\}/g, function (all, key) {
      return values[key] === undefined ? all : String(values[key]);
    });
  }
  /* Numbers in the reader's digits (Persian digits in Persian). */
  function number(n, digits) {
    try {
      return new Intl.NumberFormat(document.documentElement.lang || "en",
        { minimumFractionDigits: digits || 0, maximumFractionDigits: digits || 0 }).format(n);
    } catch (e) { return String(n); }
  }
  function status(text) { $("video-status").textContent = text; }
  /* Times added after load (the chat) in the reader's zone, language and calendar. */
  function formatTimes(root) {
    if (window.hub && window.hub.formatTimes) { window.hub.formatTimes(root); return; }
    var format;
    try {
      format = new Intl.DateTimeFormat(document.documentElement.lang || "en", { dateStyle: "medium", timeStyle: "short" });
    } catch (e) { return; }
    root.querySelectorAll("time[datetime]").forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) { el.textContent = format.format(when); el.setAttribute("data-formatted", ""); }
    });
  }
  function randomId() { return Math.random().toString(36).slice(2) + Date.now().toString(36); }

  var state = {
    socket: null, me: null, role: app.dataset.role, joined: false, ice: null,
    maxBitrate: 800000, local: null, peers: {}, audioOnly: false, peerAudioOnly: {}, peerPrefs: {},
    joinedAt: null, connectedAt: null, lastStats: {}
  };
  window.hubVideo = state; /* read by the browser tests and the benchmark */
  /* ICE restart on a connection this page offered (also done by itself after a network change). */
  state.restartIce = function (pid) {
    var peer = state.peers[pid];
    if (peer && peer.offerer) { return offer(peer, true); }
    return null;
  };

  /* --- Local media: preview and device choice --------------------------------------- */
  function constraints() {
    var cam = $("camera-select").value, mic = $("microphone-select").value;
    return {
      video: { deviceId: cam ? { exact: cam } : undefined, width: { ideal: 640 }, height: { ideal: 480 } },
      audio: { deviceId: mic ? { exact: mic } : undefined }
    };
  }
  function fillDevices() {
    return navigator.mediaDevices.enumerateDevices().then(function (devices) {
      [["videoinput", "camera-select"], ["audioinput", "microphone-select"]].forEach(function (pair) {
        var select = $(pair[1]), chosen = select.value;
        select.textContent = "";
        devices.filter(function (d) { return d.kind === pair[0]; }).forEach(function (d, i) {
          var option = document.createElement("option");
          option.value = d.deviceId;
          option.textContent = d.label || (pair[0] + " " + (i + 1));
          select.appendChild(option);
        });
        if (chosen) { select.value = chosen; }
      });
    });
  }
  function openMedia() {
    return navigator.mediaDevices.getUserMedia(constraints()).then(function (stream) {
      stream.getVideoTracks().forEach(function (t) { t.contentHint = "detail"; });
      var old = state.local;
      state.local = stream;
      $("local-video").srcObject = stream;
      applyToggles();
      if (old) {
        Object.keys(state.peers).forEach(function (pid) { replaceTracks(state.peers[pid]); });
        old.getTracks().forEach(function (t) { t.stop(); });
      }
      return fillDevices();
    }).catch(function (err) { status(fill(T.no_media, { error: err.name || err })); });
  }
  function track(kind) {
    if (!state.local) { return null; }
    var list = kind === "audio" ? state.local.getAudioTracks() : state.local.getVideoTracks();
    return list[0] || null;
  }
  function applyToggles() {
    var a = track("audio"), v = track("video");
    if (a) { a.enabled = $("mute-button").getAttribute("aria-pressed") !== "true"; }
    if (v) { v.enabled = $("camera-button").getAttribute("aria-pressed") !== "true"; }
  }
  function pressed(id) { return $(id).getAttribute("aria-pressed") === "true"; }
  /* The buttons say what state the microphone and camera are in; the preview says it too. */
  function paintToggles() {
    var mute = $("mute-button"), camera = $("camera-button");
    mute.textContent = pressed("mute-button") ? T.muted : T.mute;
    mute.title = pressed("mute-button") ? T.unmute_hint : "";
    camera.textContent = pressed("camera-button") ? T.camera_is_off : T.camera_turn_off;
    camera.title = pressed("camera-button") ? T.camera_turn_on : "";
    $("self-muted").hidden = !pressed("mute-button");
    $("self-camera-off").hidden = !pressed("camera-button");
  }
  function myPrefs() {
    return { audio_only: state.audioOnly, muted: pressed("mute-button"), camera_off: pressed("camera-button") };
  }
  function sendPrefs(pid) {
    if (state.socket && state.joined && roleOf(pid) !== "recorder") { send(+pid, { prefs: myPrefs() }); }
  }
  function toggle(button) {
    button.setAttribute("aria-pressed", button.getAttribute("aria-pressed") === "true" ? "false" : "true");
    applyToggles();
    paintToggles();
  }

  /* --- Peer connections ------------------------------------------------------------- */
  function send(to, payload) {
    payload.to = to;
    state.socket.emit("signal", payload);
  }
  function capBitrate(peer) {
    peer.pc.getSenders().forEach(function (sender) {
      if (!sender.track || sender.track.kind !== "video") { return; }
      var params = sender.getParameters();
      if (!params.encodings || !params.encodings.length) { params.encodings = [{}]; }
      if (params.encodings[0].maxBitrate === state.maxBitrate) { return; }
      params.encodings[0].maxBitrate = state.maxBitrate;
      params.degradationPreference = "maintain-resolution";
      sender.setParameters(params).catch(function () { /* applied on the next negotiation */ });
    });
  }
  function videoFor(peer) {
    /* Audio-only (mine or the peer's wish) stops sending video to that peer. */
    return state.audioOnly || state.peerAudioOnly[peer.id] ? null : track("video");
  }
  function addTracks(peer) {
    if (!state.local) { return; }
    var senders = peer.pc.getSenders();
    ["audio", "video"].forEach(function (kind) {
      var t = track(kind);
      if (!t) { return; }
      var used = senders.some(function (s) { return s.track && s.track.kind === kind; });
      if (!used && !peer.addedKinds[kind]) {
        peer.addedKinds[kind] = peer.pc.addTrack(t, state.local);
      }
    });
    replaceTracks(peer);
  }
  function replaceTracks(peer) {
    ["audio", "video"].forEach(function (kind) {
      var sender = peer.addedKinds[kind];
      if (!sender) { return; }
      var wanted = kind === "video" ? videoFor(peer) : track("audio");
      if (sender.track !== wanted) { sender.replaceTrack(wanted).catch(function () {}); }
    });
  }
  function ensureTile(peer) {
    if (peer.figure) { return; }
    peer.figure = document.createElement("figure");
    peer.figure.dataset.participantId = peer.id;
    var v = document.createElement("video");
    v.autoplay = true; v.playsInline = true;
    var off = document.createElement("p");
    off.className = "tile-off"; off.hidden = true;
    var cap = document.createElement("figcaption");
    var name = document.createElement("span");
    name.className = "tile-name"; name.textContent = nameOf(peer.id);
    var mic = document.createElement("span");
    mic.className = "badge tile-muted"; mic.hidden = true;
    cap.appendChild(name); cap.appendChild(mic);
    peer.figure.appendChild(v); peer.figure.appendChild(off); peer.figure.appendChild(cap);
    $("remotes").appendChild(peer.figure);
  }
  /* A remote tile without video says so, with the participant's name, instead of staying dark. */
  function paintTile(peer) {
    if (!peer.figure) { return; }
    var prefs = state.peerPrefs[peer.id] || {};
    var receiver = peer.pc.getReceivers().filter(function (r) { return r.track && r.track.kind === "video"; })[0];
    var noVideo = !!(prefs.camera_off || prefs.audio_only || state.audioOnly || !receiver || receiver.track.muted);
    var name = nameOf(peer.id);
    peer.figure.dataset.cameraOff = noVideo ? "true" : "false";
    peer.figure.querySelector(".tile-name").textContent = name;
    var off = peer.figure.querySelector(".tile-off");
    off.hidden = !noVideo;
    off.textContent = fill(T.camera_off, { name: name });
    var mic = peer.figure.querySelector(".tile-muted");
    mic.hidden = !prefs.muted;
    mic.textContent = T.mic_off;
    mic.title = fill(T.muted_peer, { name: name });
  }
  function closePeer(pid) {
    var peer = state.peers[pid];
    if (!peer) { return; }
    delete state.peers[pid];
    try { peer.pc.close(); } catch (e) { /* closed */ }
    if (peer.figure && peer.figure.parentNode) { peer.figure.parentNode.removeChild(peer.figure); }
  }
  function newPeer(pid, role, offerer, pcId) {
    var pc = new RTCPeerConnection({
      iceServers: state.ice.iceServers, iceTransportPolicy: state.ice.iceTransportPolicy
    });
    var peer = {
      id: pid, role: role, pc: pc, offerer: offerer, pcId: pcId || randomId(),
      pending: [], addedKinds: {}, figure: null, restartTimer: null
    };
    state.peers[pid] = peer;
    pc.onicecandidate = function (e) {
      send(pid, { pc: peer.pcId, candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.ontrack = function (e) {
      if (role === "recorder") { return; }
      ensureTile(peer);
      var video = peer.figure.querySelector("video");
      if (video.srcObject !== e.streams[0]) { video.srcObject = e.streams[0] || new MediaStream([e.track]); }
      if (e.track.kind === "video") {
        /* A sender that stopped sending video (audio only) mutes the track here. */
        e.track.onmute = e.track.onunmute = function () { paintTile(peer); };
      }
      paintTile(peer);
    };
    pc.onconnectionstatechange = function () {
      if (state.peers[pid] !== peer) { return; }  /* closed: the page said why already */
      markPeer(pid, pc.connectionState);
      if (pc.connectionState === "connected") {
        if (!state.connectedAt) { state.connectedAt = performance.now(); }
        capBitrate(peer);
        if (peer.restartTimer) { clearTimeout(peer.restartTimer); peer.restartTimer = null; }
        if (!peer.prefsSent) { peer.prefsSent = true; sendPrefs(pid); }
        if (peer.interrupted) { peer.interrupted = false; status(T.joined); }
      } else if ((pc.connectionState === "disconnected" || pc.connectionState === "failed") && role !== "recorder") {
        peer.interrupted = true;
        status(fill(T.peer_interrupted, { name: nameOf(pid) }));
      }
      if ((pc.connectionState === "disconnected" || pc.connectionState === "failed") && peer.offerer) {
        /* Network change: restart ICE on the same connection, keep the session. */
        if (!peer.restartTimer) {
          peer.restartTimer = setTimeout(function () {
            peer.restartTimer = null;
            if (state.peers[pid] === peer && pc.connectionState !== "connected") { offer(peer, true); }
          }, pc.connectionState === "failed" ? 0 : 2000);
        }
      }
    };
    return peer;
  }
  function offer(peer, iceRestart) {
    addTracks(peer);
    return peer.pc.createOffer(iceRestart ? { iceRestart: true } : {}).then(function (desc) {
      return peer.pc.setLocalDescription(desc);
    }).then(function () {
      capBitrate(peer);
      send(peer.id, { pc: peer.pcId, description: { type: "offer", sdp: peer.pc.localDescription.sdp } });
    }).catch(function (err) { console.warn("offer failed", err); });
  }
  function flushCandidates(peer) {
    var queued = peer.pending; peer.pending = [];
    queued.forEach(function (c) { peer.pc.addIceCandidate(c).catch(function () {}); });
  }
  function onSignal(msg) {
    var pid = msg.from, peer = state.peers[pid];
    if (msg.prefs) {
      var prefs = state.peerPrefs[pid] = state.peerPrefs[pid] || {};
      ["audio_only", "camera_off", "muted"].forEach(function (key) {
        if (key in msg.prefs) { prefs[key] = !!msg.prefs[key]; }
      });
      state.peerAudioOnly[pid] = !!prefs.audio_only;
      if (peer) { replaceTracks(peer); paintTile(peer); }
      return;
    }
    if (msg.description && msg.description.type === "offer") {
      if (peer && peer.pcId !== msg.pc) { closePeer(pid); peer = null; }  /* a new page */
      if (!peer) { peer = newPeer(pid, roleOf(pid), false, msg.pc); }
      peer.pc.setRemoteDescription(msg.description).then(function () {
        flushCandidates(peer);
        addTracks(peer);
        return peer.pc.createAnswer();
      }).then(function (answer) {
        return peer.pc.setLocalDescription(answer);
      }).then(function () {
        capBitrate(peer);
        send(pid, { pc: peer.pcId, description: { type: "answer", sdp: peer.pc.localDescription.sdp } });
      }).catch(function (err) { console.warn("answer failed", err); });
      return;
    }
    if (!peer || peer.pcId !== msg.pc) { return; }
    if (msg.description && msg.description.type === "answer") {
      peer.pc.setRemoteDescription(msg.description).then(function () { flushCandidates(peer); })
        .catch(function (err) { console.warn("answer not applied", err); });
    } else if ("candidate" in msg) {
      if (!msg.candidate) { return; }
      if (peer.pc.remoteDescription) { peer.pc.addIceCandidate(msg.candidate).catch(function () {}); }
      else { peer.pending.push(msg.candidate); }
    }
  }

  /* --- Participants and waiting room ------------------------------------------------- */
  var roles = {};
  function roleOf(pid) { return roles[pid] || "participant"; }
  function nameOf(pid) { return NAMES[pid] || T.roles[roleOf(pid)] || roleOf(pid); }
  /* Who a signalling notice is about: staff by name and role, the patient by the role. */
  function learn(p) {
    roles[p.participant_id] = p.role;
    var role = T.roles[p.role] || p.role;
    if (p.name) { NAMES[p.participant_id] = p.name + " (" + role + ")"; }
    else if (!NAMES[p.participant_id]) { NAMES[p.participant_id] = role; }
  }
  function othersHere() {
    return Object.keys(state.peers).filter(function (pid) { return roleOf(pid) !== "recorder"; }).length;
  }
  function listItem(pid) { return document.querySelector('#participants li[data-participant-id="' + pid + '"]'); }
  function markPeer(pid, text) {
    var li = listItem(pid);
    if (!li) { return; }
    li.dataset.connected = text === "connected" ? "true" : "false";
    li.querySelector(".state").textContent = text === "connected" ? T.connected
      : text === "left" ? T.left_state : (text ? T.reconnecting : "");
  }
  function ensureListed(pid, role) {
    roles[pid] = role;
    if (listItem(pid)) { listItem(pid).querySelector(".name").textContent = nameOf(pid); return; }
    var li = document.createElement("li");
    li.dataset.participantId = pid; li.dataset.connected = "false";
    li.innerHTML = '<span class="dot" aria-hidden="true"></span><span class="name"></span><span class="state muted small"></span>';
    li.querySelector(".name").textContent = nameOf(pid);
    $("participants").appendChild(li);
  }
  /* The waiting room heading shows only while someone waits. */
  function removeWaiting(pid) {
    var li = document.querySelector('#waiting li[data-participant-id="' + pid + '"]');
    if (li) { li.parentNode.removeChild(li); }
    $("waiting-room").hidden = !$("waiting").children.length;
  }
  function showWaiting(item) {
    learn(item);
    $("waiting-room").hidden = false;
    if (document.querySelector('#waiting li[data-participant-id="' + item.participant_id + '"]')) { return; }
    var li = document.createElement("li");
    li.dataset.participantId = item.participant_id;
    var label = document.createElement("span");
    label.textContent = fill(T.asks_to_join, { role: nameOf(item.participant_id) });
    var button = document.createElement("button");
    button.type = "button"; button.textContent = T.admit; button.dataset.admit = item.participant_id;
    button.addEventListener("click", function () {
      state.socket.emit("admit", { participant_id: item.participant_id }, function (ack) {
        if (ack && ack.ok) { removeWaiting(item.participant_id); }
      });
    });
    li.appendChild(label); li.appendChild(button);
    $("waiting").appendChild(li);
  }

  /* --- Signalling --------------------------------------------------------------------- */
  function onJoined(ack) {
    if (!ack || !ack.ok) {
      status(ack && ack.error && ack.error.code === "session_ended" ? T.ended : T.refused);
      state.refused = ack && ack.error;
      return;
    }
    state.me = ack.participant_id;
    if (ack.status === "waiting") { status(T.waiting); return; }
    state.joined = true;
    state.ice = ack.ice; state.maxBitrate = ack.max_bitrate;
    status(ack.rejoined ? T.rejoined : (ack.peers.length ? T.joined : T.alone));
    markPeer(state.me, "connected");
    $("leave-button").disabled = false; $("join-button").disabled = true;
    (ack.waiting || []).forEach(showWaiting);
    ack.peers.forEach(function (p) {
      learn(p);
      ensureListed(p.participant_id, p.role);
      var peer = state.peers[p.participant_id];
      if (peer && peer.pc.connectionState === "connected") { return; }  /* kept across a socket drop */
      if (peer && peer.offerer) { offer(peer, true); return; }          /* ICE restart */
      if (peer) { closePeer(p.participant_id); }
      offer(newPeer(p.participant_id, p.role, true), false);
    });
  }
  function join() {
    status(T.connecting);
    state.joinedAt = performance.now();
    var socket = window.io("/video", { transports: ["websocket"], auth: GUEST ? { guest: GUEST } : {} });
    state.socket = socket;
    socket.on("connect", function () { socket.emit("join", { session_id: SESSION }, onJoined); });
    socket.on("connect_error", function () { status(T.refused); });
    socket.on("disconnect", function () { if (state.joined) { status(T.reconnecting); } });
    socket.on("admitted", function () { socket.emit("join", { session_id: SESSION }, onJoined); });
    socket.on("waiting", showWaiting);
    socket.on("waiting-left", function (p) { removeWaiting(p.participant_id); });
    socket.on("peer-joined", function (p) {
      learn(p);
      ensureListed(p.participant_id, p.role);
      removeWaiting(p.participant_id);
      if (p.role !== "recorder" && state.joined) { status(fill(T.peer_joined, { name: nameOf(p.participant_id) })); }
    });
    /* The other side left (or dropped, or lost its link): say so, never a stale "In the session". */
    socket.on("peer-left", function (p) {
      var pid = p.participant_id;
      markPeer(pid, "left");
      closePeer(pid);
      delete state.peerPrefs[pid];
      if (roleOf(pid) === "recorder" || !state.joined) { return; }
      var text = p.reason === "disconnected" ? T.peer_lost : (p.reason === "revoked" ? T.peer_revoked : T.peer_left);
      text = fill(text, { name: nameOf(pid) });
      status(othersHere() ? text : text + " " + T.nobody_left);
      if (!othersHere()) { clearQuality(); }
    });
    socket.on("signal", onSignal);
    socket.on("revoked", function () {
      Object.keys(state.peers).forEach(closePeer);
      state.joined = false;
      status(T.revoked);
      socket.disconnect();
      $("leave-button").disabled = true; $("join-button").disabled = true;
    });
    socket.on("ended", function () {
      Object.keys(state.peers).forEach(closePeer);
      state.joined = false;
      status(T.ended);
      socket.disconnect();
      $("leave-button").disabled = true; $("join-button").disabled = true;
    });
  }
  function leave() {
    if (state.socket) { state.socket.emit("leave"); state.socket.disconnect(); }
    Object.keys(state.peers).forEach(closePeer);
    state.joined = false;
    clearQuality();
    status(T.left);
    $("leave-button").disabled = true; $("join-button").disabled = false;
  }

  /* --- Quality from getStats() ------------------------------------------------------ */
  function sample() {
    var pids = Object.keys(state.peers);
    return Promise.all(pids.map(function (pid) {
      return state.peers[pid].pc.getStats().then(function (report) {
        var s = { peer: +pid, bytes: 0, lost: 0, received: 0, frames: 0, rtt: null, fps: null, width: null, height: null, bytesSent: 0 };
        report.forEach(function (r) {
          if (r.type === "inbound-rtp") {
            s.bytes += r.bytesReceived || 0; s.lost += r.packetsLost || 0; s.received += r.packetsReceived || 0;
            if (r.kind === "video") {
              s.frames += r.framesDecoded || 0; s.fps = r.framesPerSecond || s.fps;
              s.width = r.frameWidth || s.width; s.height = r.frameHeight || s.height;
              s.freezes = (s.freezes || 0) + (r.freezeCount || 0);
            }
          } else if (r.type === "outbound-rtp") {
            s.bytesSent += r.bytesSent || 0;
          } else if (r.type === "candidate-pair" && r.nominated && r.currentRoundTripTime !== undefined) {
            s.rtt = r.currentRoundTripTime * 1000;
            s.localCandidate = r.localCandidateId;
          } else if (r.type === "local-candidate") {
            s.candidateTypes = (s.candidateTypes || {}); s.candidateTypes[r.id] = r.candidateType;
          }
        });
        if (s.candidateTypes && s.localCandidate) { s.localType = s.candidateTypes[s.localCandidate]; }
        return s;
      });
    }));
  }
  window.hubVideoStats = sample;
  function clearQuality() { var el = $("quality"); el.textContent = ""; delete el.dataset.level; }
  var ticks = 0;
  setInterval(function () {
    if (!state.joined) { return; }
    sample().then(function (all) {
      var now = performance.now(), shown = null;
      all.forEach(function (s) {
        var last = state.lastStats[s.peer];
        state.lastStats[s.peer] = { at: now, bytes: s.bytes, lost: s.lost, received: s.received };
        if (!last || roles[s.peer] === "recorder") { return; }
        var kbps = Math.round((s.bytes - last.bytes) * 8 / (now - last.at));
        var packets = (s.received - last.received) + (s.lost - last.lost);
        var loss = packets > 0 ? Math.max(0, (s.lost - last.lost) / packets * 100) : 0;
        shown = { peer: s.peer, bitrate_kbps: kbps, packet_loss: loss, rtt_ms: s.rtt || 0, fps: s.fps || 0,
                  width: s.width || 0, height: s.height || 0, audio_only: state.audioOnly };
      });
      if (!othersHere()) { clearQuality(); return; }  /* nobody to measure: no stale figures */
      if (!shown) { return; }
      var level = shown.packet_loss > 5 || shown.rtt_ms > 400 ? "poor" : (shown.packet_loss > 1 || shown.rtt_ms > 200 ? "fair" : "good");
      var el = $("quality");
      el.dataset.level = level;
      el.textContent = T["quality_" + level] + " · " + fill(T.quality, {
        kbps: number(shown.bitrate_kbps), loss: number(shown.packet_loss, 1), rtt: number(Math.round(shown.rtt_ms))
      });
      ticks += 1;
      if (ticks % 5 === 0 && state.socket) { state.socket.emit("quality", shown); }  /* every 10 s */
    });
  }, 2000);

  /* --- Controls ------------------------------------------------------------------------ */
  $("join-button").addEventListener("click", join);
  $("leave-button").addEventListener("click", leave);
  function toggleAndTell(button) {
    toggle(button);
    Object.keys(state.peers).forEach(sendPrefs);
  }
  $("mute-button").addEventListener("click", function () { toggleAndTell(this); });
  $("camera-button").addEventListener("click", function () { toggleAndTell(this); });
  $("audio-only-button").addEventListener("click", function () {
    toggle(this);
    state.audioOnly = this.getAttribute("aria-pressed") === "true";
    Object.keys(state.peers).forEach(function (pid) {
      replaceTracks(state.peers[pid]);
      paintTile(state.peers[pid]);
      sendPrefs(pid);
    });
  });
  $("camera-select").addEventListener("change", openMedia);
  $("microphone-select").addEventListener("change", openMedia);
  var consent = $("recording-consent");
  if (consent) {
    consent.addEventListener("change", function () {
      var box = this;
      if (GUEST) {
        if (!state.socket) { box.checked = !box.checked; status(T.join_first); return; }
        state.socket.emit("consent", { consent: box.checked }, function (ack) {
          if (!ack || !ack.ok) { box.checked = !box.checked; }
        });
        return;
      }
      fetch("/api/v1/video-sessions/" + SESSION + "/recording-consent", {
        method: "PUT", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
        body: JSON.stringify({ consent: box.checked })
      }).then(function (r) { if (!r.ok) { box.checked = !box.checked; } });
    });
  }

  /* --- Invitations: the patient's guest link, an interpreter or a second specialist ----- */
  function invite(body) {
    $("invite-error").textContent = "";
    return fetch("/api/v1/video-sessions/" + SESSION + "/participants", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
      body: JSON.stringify(body)
    }).then(function (r) {
      return r.json().then(function (d) {
        if (!r.ok) { $("invite-error").textContent = d.error.message; return null; }
        learn({ participant_id: d.participant.id, role: d.participant.role, name: null });
        ensureListed(d.participant.id, d.participant.role);
        return d;
      });
    });
  }
  if ($("invite-patient")) {
    $("invite-patient").addEventListener("click", function () {
      invite({ role: "patient" }).then(function (d) {
        if (d && d.guest_url) { var box = $("guest-url"); box.hidden = false; box.value = d.guest_url; box.select(); }
      });
    });
    $("invite-form").addEventListener("submit", function (e) {
      e.preventDefault();
      invite({ role: $("invite-role").value, username: $("invite-username").value.trim() })
        .then(function (d) { if (d) { $("invite-username").value = ""; } });
    });
  }

  /* --- Chat fallback: the consult's own conversation ---------------------------------- */
  var list = $("chat-messages");
  function loadChat() {
    if (!list) { return; }
    fetch(list.dataset.url, { credentials: "same-origin" }).then(function (r) { return r.text(); })
      .then(function (html) { list.innerHTML = html; formatTimes(list); list.scrollTop = list.scrollHeight; });
  }
  if (list) {
    loadChat();
    setInterval(loadChat, 10000);
    $("chat-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var body = $("chat-body");
      fetch("/api/v1/consults/" + CONSULT + "/messages", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": CSRF },
        body: JSON.stringify({ body: body.value })
      }).then(function (r) {
        if (r.ok) { body.value = ""; loadChat(); status(T.message_sent); }
        else { r.json().then(function (d) { status(fill(T.failed, { error: d.error.message })); }); }
      });
    });
  }

  openMedia().then(function () {
    if (new URLSearchParams(location.search).get("autojoin") === "1") { join(); }
  });
})();
