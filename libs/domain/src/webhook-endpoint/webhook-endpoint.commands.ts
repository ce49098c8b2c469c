/** Register an endpoint; the caller generated its secret and kept it apart, naming it `secretId`. */
export type RegisterWebhookEndpoint = Readonly<{
  type: 'RegisterWebhookEndpoint';
  endpointId: string;
  url: string;
  events: readonly string[];
  description?: string;
  secretId: string;
  now: Date;
}>;
export type RotateWebhookSecret = Readonly<{
  type: 'RotateWebhookSecret';
  endpointId: string;
  secretId: string;
  now: Date;
}>;
export type SetWebhookEndpointEnabled = Readonly<{
  type: 'SetWebhookEndpointEnabled';
  endpointId: string;
  enabled: boolean;
  now: Date;
}>;
export type WebhookEndpointCommand = RegisterWebhookEndpoint | RotateWebhookSecret | SetWebhookEndpointEnabled;
