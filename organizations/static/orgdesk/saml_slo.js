// Single logout (templates/signin/saml/slo_redirect.html): go on to the
// identity provider with the LogoutRequest at once. Without JavaScript the
// page's link does it.
window.location.replace(document.getElementById("saml-slo-continue").href);
