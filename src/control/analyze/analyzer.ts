import type { AnalysisContext } from './analysis-context.ts';

/** One analyzer, named as in Istio (`virtualservice.DestinationHostAnalyzer`). */
export interface Analyzer {
  readonly name: string;
  readonly description: string;
  /** Message type names (catalog names) this analyzer may report. */
  readonly messages: readonly string[];
  /** Not run by default (Istio keeps it out of analyzers.All()); run it by name. */
  readonly optional?: boolean;
  analyze(ctx: AnalysisContext): void;
}
