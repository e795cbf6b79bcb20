/* Login: posts the form to /api/v1/auth/login, which sets the session cookie, then goes on. */
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  const submit = document.getElementById("login-submit");

  function showError(zh, en) {
    error.replaceChildren(TW.bi(zh, en));
    error.hidden = false;
  }

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    try {
      const res = await fetch(TW.boot.api + "/auth/login", {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        body: new URLSearchParams(new FormData(form)),
      });
      if (res.ok) {
        location.assign(TW.boot.next || "/");
        return;
      }
      if (res.status === 429) {
        const wait = res.headers.get("Retry-After") || "60";
        showError(`尝试次数过多，请 ${wait} 秒后再试`, `Too many attempts; try again in ${wait} s`);
      } else if (res.status === 401) {
        showError("用户名或密码错误", "Wrong username or password");
      } else {
        showError(`登录失败 (${res.status})`, `Sign-in failed (${res.status})`);
      }
    } catch (err) {
      showError("无法连接服务器", "Cannot reach the server");
    } finally {
      submit.disabled = false;
    }
  });
});
