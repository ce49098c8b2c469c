// The generated fetch client names the DOM's BodyInit; Node's fetch takes the same bodies.
declare global {
  type BodyInit = NonNullable<ConstructorParameters<typeof Response>[0]>;
}
export {};
