// /login: a portal user's email and password become a session cookie; the page then goes
// to the user's home (/console or /portal). The password is sent once, in a POST body.
const form = document.getElementById("sign-in");
const status = document.getElementById("status");

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const values = Object.fromEntries(new FormData(form).entries());
  status.className = "";
  status.textContent = "Signing in…";
  try {
    const response = await fetch("/login", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: values.email, password: values.password }),
    });
    const body = await response.json();
    if (!response.ok) {
      throw new Error(body.errors && body.errors[0] ? body.errors[0].message : "sign-in failed");
    }
    form.reset();
    location.replace(body.home);
  } catch (error) {
    status.className = "error";
    status.textContent = error.message;
    form.elements.password.value = "";
    form.elements.password.focus();
  }
});
