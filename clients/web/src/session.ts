/**
 * Who the page calls the gateway as. The console server's `/config.json` names the gateway and says whether it mints
 * development tokens (`/dev-token?user=`, the local stack only); otherwise a pasted Supabase access token is used.
 * The client asks `token()` before every request, as it would ask a Supabase session.
 */

export interface ConsoleConfig {
  gateway: string;
  devTokens: boolean;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  const reply = await fetch("config.json", { cache: "no-store" });
  if (!reply.ok) throw new Error(`config.json answered HTTP ${reply.status}`);
  return (await reply.json()) as ConsoleConfig;
}

export class Session {
  private current: string | null = null;
  label = "Not signed in";

  constructor(private readonly config: ConsoleConfig) {}

  /** The token provider handed to the client. */
  readonly token = async (): Promise<string | null> => this.current;

  get signedIn(): boolean {
    return this.current !== null;
  }

  async signIn(user: string, pasted: string): Promise<void> {
    if (pasted.trim() !== "") {
      this.current = pasted.trim();
      this.label = "Signed in with a pasted token";
      return;
    }
    if (!this.config.devTokens) throw new Error("Paste an access token from your Supabase session to sign in.");
    const name = user.trim() || "demo";
    const reply = await fetch(`dev-token?user=${encodeURIComponent(name)}`, { cache: "no-store" });
    if (!reply.ok) throw new Error(`The development sign-in failed (HTTP ${reply.status}).`);
    this.current = ((await reply.json()) as { token: string }).token;
    this.label = `Signed in as ${name} (development)`;
  }
}
