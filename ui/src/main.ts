import "./app.css";
import { mount } from "svelte";
import App from "./App.svelte";
import { app } from "./lib/app.svelte";
import { parseHash, router } from "./lib/router.svelte";

// The token must leave the address bar before anything else reads the URL; the route is read
// again from what is left (`#/chat&token=…` becomes `#/chat`).
app.init();
router.route = parseHash(location.hash);

const target = document.getElementById("app");
if (target) mount(App, { target });
