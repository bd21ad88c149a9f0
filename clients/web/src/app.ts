/**
 * The console's entry point: loads the config, wires sign-in, search, the discover box and the unlocked list to the
 * typed client.
 */

import "uplot/dist/uPlot.min.css";
import "./style.css";

import { FollowingClient } from "../../typescript/src/index.js";
import { discoverOptions, renderDiscovered } from "./discovery.js";
import { describe } from "./problems.js";
import { loadConfig, Session } from "./session.js";
import { el, renderReport, renderUnlocked } from "./view.js";

function byId<T extends HTMLElement>(id: string): T {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from the page`);
  return node as T;
}

async function main(): Promise<void> {
  const config = await loadConfig();
  const session = new Session(config);
  const api = new FollowingClient({ baseUrl: config.gateway, token: session.token });
  const errorBox = byId<HTMLElement>("error");
  const report = byId<HTMLElement>("report");
  const spinner = byId<HTMLElement>("spinner");
  const unlocked = byId<HTMLUListElement>("unlocked");
  const who = byId<HTMLElement>("who");
  const username = byId<HTMLInputElement>("username");
  const searchButton = byId<HTMLFormElement>("search").querySelector("button") as HTMLButtonElement;
  if (!config.devTokens) byId<HTMLInputElement>("dev-user").hidden = true;

  const showError = (error: unknown): void => {
    const problem = describe(error);
    errorBox.replaceChildren(el("b", {}, problem.title), el("div", {}, problem.detail));
    if (problem.reason) errorBox.append(el("code", { "data-testid": "reason" }, problem.reason));
    errorBox.hidden = false;
  };

  const refreshUnlocked = async (): Promise<void> => {
    try {
      renderUnlocked(unlocked, await api.unlocked({ pageSize: 50 }), (name) => void search(name));
    } catch (error) {
      showError(error);
    }
  };

  const search = async (name: string): Promise<void> => {
    errorBox.hidden = true;
    spinner.hidden = false;
    searchButton.disabled = true;
    try {
      const result = await api.search(name);
      const handle = result.profile?.username ?? name;
      renderReport(report, result, api.history(handle));
      await refreshUnlocked();
    } catch (error) {
      report.hidden = true;
      showError(error);
    } finally {
      spinner.hidden = true;
      searchButton.disabled = false;
    }
  };

  byId<HTMLFormElement>("signin").addEventListener("submit", (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    report.hidden = true;
    const form = new FormData(event.target as HTMLFormElement);
    session
      .signIn(String(form.get("user") ?? ""), String(form.get("token") ?? ""))
      .then(() => {
        who.textContent = session.label;
        return refreshUnlocked();
      })
      .catch(showError);
  });

  const discovered = byId<HTMLElement>("discovered");
  const discoveredBox = byId<HTMLElement>("discovered-box");
  const more = byId<HTMLButtonElement>("more");
  let nextPage: (() => Promise<void>) | null = null;
  const discover = async (query: string, form: FormData, pageToken = ""): Promise<void> => {
    errorBox.hidden = true;
    try {
      const page = await api.discover(query, { ...discoverOptions(form), ...(pageToken ? { pageToken } : {}) });
      renderDiscovered(discovered, page, pageToken !== "");
      discoveredBox.hidden = false;
      more.hidden = !page.next_page_token;
      nextPage = page.next_page_token ? () => discover(query, form, page.next_page_token) : null;
    } catch (error) {
      if (!pageToken) discoveredBox.hidden = true;
      showError(error);
    }
  };
  more.addEventListener("click", () => void nextPage?.());

  byId<HTMLFormElement>("discover").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!session.signedIn) return showError(new Error("Sign in first."));
    const form = new FormData(event.target as HTMLFormElement);
    void discover(String(form.get("query") ?? ""), form);
  });

  byId<HTMLFormElement>("search").addEventListener("submit", (event) => {
    event.preventDefault();
    if (!session.signedIn) return showError(new Error("Sign in first."));
    void search(username.value);
  });

  // The buttons stay disabled until the handlers above exist, so an early click cannot submit the form natively.
  for (const button of document.querySelectorAll<HTMLButtonElement>("form button")) button.disabled = false;
  document.body.dataset["ready"] = "true";
}

main().catch((error: unknown) => {
  document.body.prepend(el("div", { class: "error" }, `The console could not start: ${String(error)}`));
});
