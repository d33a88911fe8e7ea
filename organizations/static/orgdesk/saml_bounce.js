// SAML bounce page (templates/signin/saml/bounce.html): post the IdP's fields
// again from this origin at once, so the session cookie (SameSite=Lax) goes
// along. Without JavaScript the page's <noscript> Continue button does it.
document.getElementById("saml-bounce").submit();
