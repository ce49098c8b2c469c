/**
 * An event as the domain decides it: a type and its data. The handler adds the event id
 * and the metadata (command id, correlation, caller, time) when it appends.
 */
export type DomainEvent<Type extends string, Data extends Record<string, unknown>> = Readonly<{
  type: Type;
  data: Data;
}>;
