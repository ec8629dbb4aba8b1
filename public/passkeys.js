// Passkeys: the browser's half of a WebAuthn ceremony. A button marked data-passkey asks the
// portal for options, hands them to the browser's passkey prompt, and posts its answer back.
// Where the browser has no passkeys (or scripts are off) the buttons stay hidden and a note says
// that a code by text still works.
(function () {
  var P = window.PublicKeyCredential;
  if (!P || !P.parseCreationOptionsFromJSON || !P.parseRequestOptionsFromJSON) return;
  document.documentElement.setAttribute("data-passkeys", "ready");

  function post(path, fields) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
      body: new URLSearchParams(fields || {}),
    }).then(function (answer) {
      return answer.json().catch(function () { return {}; }).then(function (json) {
        if (!answer.ok) throw new Error(json.message || "Something went wrong. Please try again.");
        return json;
      });
    });
  }

  // Adding one: a patient's (on /security) or a staff member's own (on /staff/passkeys).
  function add(box, api, done) {
    var name = box.querySelector("[name=passkey_name]");
    return post(api + "/passkey_registration").then(function (o) {
      var options = P.parseCreationOptionsFromJSON(JSON.parse(o.options).publicKey);
      return navigator.credentials.create({ publicKey: options });
    }).then(function (credential) {
      return post(api + "/add_passkey", {
        name: name ? name.value : "",
        credential: JSON.stringify(credential.toJSON()),
      });
    }).then(function () {
      location.assign(done);
    });
  }

  // `then`: where to go after a passkey confirmed it's the patient, in place of the answer's.
  function finish(credential, api, then) {
    return post((api || "/api") + "/passkey_sign_in", { credential: JSON.stringify(credential.toJSON()) })
      .then(function (done) {
        location.assign(then || done.next || "/");
      });
  }

  // The username field's autofill offers passkeys too, where the browser can (conditional
  // mediation): one request waits in the background until a passkey is picked there.
  var waiting = null;
  function offerInUsernameField() {
    var field = document.querySelector('input[autocomplete~="webauthn"]');
    if (!field || waiting || !P.isConditionalMediationAvailable) return;
    waiting = new AbortController();
    var signal = waiting.signal;
    P.isConditionalMediationAvailable().then(function (available) {
      if (!available || signal.aborted) throw new Error("not offered");
      return post("/api/passkey_challenge");
    }).then(function (o) {
      var options = P.parseRequestOptionsFromJSON(JSON.parse(o.options).publicKey);
      return navigator.credentials.get({ publicKey: options, mediation: "conditional", signal: signal });
    }).then(function (credential) {
      return finish(credential);
    }).catch(function () {}).then(function () {
      if (waiting && waiting.signal === signal) waiting = null;
    });
  }

  // Signing in: a patient's passkey, or a staff member's after their password (`fields`); or a
  // signed-in patient confirming it's them, then going on to `then`.
  function signIn(api, fields, then) {
    // A button press asks at once; the autofill's waiting request gives way to it.
    if (waiting) {
      waiting.abort();
      waiting = null;
    }
    return post(api + "/passkey_challenge", fields).then(function (o) {
      var options = P.parseRequestOptionsFromJSON(JSON.parse(o.options).publicKey);
      return navigator.credentials.get({ publicKey: options });
    }).then(function (credential) {
      return finish(credential, api, then);
    });
  }

  function ceremony(action, box, button) {
    switch (action) {
      case "add":
        return add(box, "/api", "/security?passkey-added");
      case "recovery-add":
        // In place of a recovery's new phone: the session is signed in now, and /security asks
        // about passkeys on the lost phone.
        return add(box, "/api", "/security?passkey-added");
      case "staff-add":
        return add(box, "/api/staff", "/staff/passkeys?added");
      case "confirm":
        var onward = box.closest("[data-then]");
        return signIn("/api", undefined, onward && onward.getAttribute("data-then"));
      case "staff-sign-in":
        var form = button.closest("form");
        return signIn("/api/staff", {
          username: form.elements.username.value,
          password: form.elements.password.value,
        });
      default:
        return signIn("/api");
    }
  }

  // Pages change in place (the islands router): the login page's field may come or go.
  function followThePage() {
    var field = document.querySelector('input[autocomplete~="webauthn"]');
    if (!field && waiting) {
      waiting.abort();
      waiting = null;
    }
    if (field) offerInUsernameField();
  }
  followThePage();
  new MutationObserver(followThePage).observe(document.body, { childList: true, subtree: true });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-passkey]");
    if (!button) return;
    event.preventDefault();
    var box = button.closest("[data-passkey-box]");
    var message = box.querySelector("[data-passkey-message]");
    message.textContent = "";
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    ceremony(button.getAttribute("data-passkey"), box, button).catch(function (error) {
      // Cancelled at the browser's prompt, or no passkey there: nothing went wrong on our side.
      message.textContent = error && error.name === "NotAllowedError"
        ? "No passkey was used. You can try again, or use a code sent by text."
        : error && error.name === "InvalidStateError"
        ? "That passkey is added already."
        : (error && error.message) || "Something went wrong. Please try again.";
    }).then(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  });
})();
