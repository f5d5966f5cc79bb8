// mitmproxy's intercept: the options `intercept` (a filter) and `intercept_active`. A live
// flow that matches is paused in `request` and again in `response` (and per TCP message);
// the proxy holds it until a tool (the web UI) or an addon resumes or kills it.
import {
  compileFilter,
  FilterError,
  OptionError,
  type Addon,
  type AnyFlow,
  type FlowFilter,
  type HTTPFlow,
  type Loader,
  type OptionHandle,
  type TCPFlow,
} from "@interloper/sdk";

export class Intercept implements Addon {
  readonly name = "intercept";
  private loader: Loader | undefined;
  private filterOption: OptionHandle<string | undefined> | undefined;
  private activeOption: OptionHandle<boolean> | undefined;
  private filter: FlowFilter | undefined;

  load(loader: Loader): void {
    loader.hooksWhen(() => this.filter !== undefined);
    this.loader = loader;
    this.activeOption = loader.addOption({
      name: "interceptActive",
      type: "bool",
      default: false,
      help: "Intercept toggle: pause the flows `intercept` matches (setting `intercept` turns it on).",
    });
    this.filterOption = loader.addOption<string | undefined>({
      name: "intercept",
      type: "optional-string",
      default: undefined,
      help: "Intercept filter expression: matching requests and responses pause until resumed (web UI) or killed.",
    });
  }

  async configure(updated: ReadonlySet<string>): Promise<void> {
    if (!updated.has("intercept")) return;
    const expr = this.filterOption!.get();
    try {
      this.filter = expr === undefined || expr.trim() === "" ? undefined : compileFilter(expr);
    } catch (err) {
      if (err instanceof FilterError) throw new OptionError(`invalid value for intercept: ${err.message}`);
      throw err;
    }
    // As mitmproxy: a new filter turns interception on, clearing it turns it off.
    if (!updated.has("interceptActive")) await this.loader!.setOptions({ interceptActive: this.filter !== undefined });
  }

  request(flow: HTTPFlow): void {
    this.pauseIfMatching(flow);
  }

  response(flow: HTTPFlow): void {
    this.pauseIfMatching(flow);
  }

  tcpMessage(flow: TCPFlow): void {
    this.pauseIfMatching(flow);
  }

  private pauseIfMatching(flow: AnyFlow): void {
    // Replayed flows are not intercepted (mitmproxy's rule): the user sent them on purpose.
    if (this.filter === undefined || !this.activeOption!.get() || flow.isReplay !== undefined) return;
    if (this.filter(flow)) flow.intercept();
  }
}
