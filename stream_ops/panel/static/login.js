// Already logged in (the cookie is there but this page was reached from another
// site, which does not send a SameSite=Strict cookie)? Then go straight to the panel.
fetch("/login/status", { credentials: "same-origin" })
  .then((r) => r.json())
  .then((s) => { if (s.logged_in) location.replace("/"); })
  .catch(() => {});
