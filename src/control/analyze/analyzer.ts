import type { AnalysisContext } from './analysis-context.ts';

/** One analyzer, named as in Istio (`virtualservice.DestinationHostAnalyzer`). */
export interface Analyzer {
  readonly name: string;
  readonly description: string;
  /** Message type names (catalog names) this analyzer may report. */
  readonly messages: readonly string[];
  analyze(ctx: AnalysisContext): void;
}
