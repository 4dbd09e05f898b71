// Passkeys: the library's scripts (django-otp-webauthn) run the ceremonies; once a passkey is
// created, this takes the page back to the security page, which lists it.
(function () {
  "use strict";
  document.addEventListener("otp_webauthn.register_complete", function (event) {
    var response = event.detail && event.detail.response;
    if (response && response.redirect_url) {
      window.location.assign(response.redirect_url);
    }
  });
})();
