/** Whether an Accept header names `type` (parameters and weights aside). */
export function accepts(accept: string | undefined, type: string): boolean {
  return (accept ?? '').split(',').some((part) => part.split(';')[0]!.trim().toLowerCase() === type);
}
