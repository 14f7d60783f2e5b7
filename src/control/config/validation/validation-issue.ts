/** One finding of validation: a field path (`spec.http[0].route[1].weight`) and a message. */
export interface ValidationIssue {
  path: string;
  message: string;
}

export interface ValidationResult {
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
}
