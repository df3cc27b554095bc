/**
 * The messages of the DMTF Base message registry (Base.1.16.0, DSP8011 bundle) that
 * Portcullis sends, with their registry texts verbatim: clients and validators
 * compare MessageId, Message and Severity with the published registry.
 */
export const BASE_REGISTRY = 'Base.1.16';
export const BASE_REGISTRY_VERSION = '1.16.0';

type Severity = 'OK' | 'Warning' | 'Critical';

interface Entry {
  message: string;
  severity: Severity;
  resolution: string;
}

export const BASE_MESSAGES = {
  Success: { message: 'The request completed successfully.', severity: 'OK', resolution: 'None' },
  Created: { message: 'The resource has been created successfully.', severity: 'OK', resolution: 'None.' },
  GeneralError: {
    message: 'A general error has occurred.  See Resolution for information on how to resolve the error, or @Message.ExtendedInfo if Resolution is not provided.',
    severity: 'Critical',
    resolution: 'None.',
  },
  NoOperation: { message: 'The request body submitted contain no data to act upon and no changes to the resource took place.', severity: 'Warning', resolution: 'Add properties in the JSON object and resubmit the request.' },
  ActionParameterMissing: { message: 'The action %1 requires the parameter %2 to be present in the request body.', severity: 'Critical', resolution: 'Supply the action with the required parameter in the request body when the request is resubmitted.' },
  ActionParameterUnknown: { message: 'The action %1 was submitted with the invalid parameter %2.', severity: 'Warning', resolution: 'Correct the invalid action parameter and resubmit the request if the operation failed.' },
  ActionParameterValueTypeError: { message: "The value '%1' for the parameter %2 in the action %3 is of a different type than the parameter can accept.", severity: 'Warning', resolution: 'Correct the value for the parameter in the request body and resubmit the request if the operation failed.' },
  ActionParameterValueError: { message: 'The value for the parameter %1 in the action %2 is invalid.', severity: 'Warning', resolution: 'Correct the value for the parameter in the request body and resubmit the request if the operation failed.' },
  PropertyUnknown: { message: 'The property %1 is not in the list of valid properties for the resource.', severity: 'Warning', resolution: 'Remove the unknown property from the request body and resubmit the request if the operation failed.' },
  PropertyValueTypeError: { message: "The value '%1' for the property %2 is of a different type than the property can accept.", severity: 'Warning', resolution: 'Correct the value for the property in the request body and resubmit the request if the operation failed.' },
  PropertyValueNotInList: { message: "The value '%1' for the property %2 is not in the list of acceptable values.", severity: 'Warning', resolution: 'Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.' },
  PropertyValueOutOfRange: { message: "The value '%1' for the property %2 is not in the supported range of acceptable values.", severity: 'Warning', resolution: 'Correct the value for the property in the request body and resubmit the request if the operation failed.' },
  PropertyValueError: { message: 'The value provided for the property %1 is not valid.', severity: 'Warning', resolution: 'Correct the value for the property in the request body and resubmit the request if the operation failed.' },
  PropertyValueIncorrect: { message: "The property '%1' with the requested value of '%2' could not be written because the value does not meet the constraints of the implementation.", severity: 'Warning', resolution: 'No resolution is required.' },
  PropertyValueModified: { message: "The property %1 was assigned the value '%2' due to modification by the service.", severity: 'Warning', resolution: 'No resolution is required.' },
  PropertyNotWritable: { message: 'The property %1 is a read only property and cannot be assigned a value.', severity: 'Warning', resolution: 'Remove the property from the request body and resubmit the request if the operation failed.' },
  PropertyMissing: { message: 'The property %1 is a required property and must be included in the request.', severity: 'Warning', resolution: 'Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed.' },
  MalformedJSON: { message: 'The request body submitted was malformed JSON and could not be parsed by the receiving service.', severity: 'Critical', resolution: 'Ensure that the request body is valid JSON and resubmit the request.' },
  EmptyJSON: { message: 'The request body submitted contained an empty JSON object and the service is unable to process it.', severity: 'Warning', resolution: 'Add properties in the JSON object and resubmit the request.' },
  QueryParameterUnsupported: { message: "Query parameter '%1' is not supported.", severity: 'Warning', resolution: 'Correct or remove the query parameter and resubmit the request.' },
  SessionLimitExceeded: {
    message: 'The session establishment failed due to the number of simultaneous sessions exceeding the limit of the implementation.',
    severity: 'Critical',
    resolution: 'Reduce the number of other sessions before trying to establish the session or increase the limit of simultaneous sessions, if supported.',
  },
  ResourceAlreadyExists: { message: "The requested resource of type %1 with the property %2 with the value '%3' already exists.", severity: 'Critical', resolution: 'Do not repeat the create operation as the resource has already been created.' },
  ResourceNotFound: { message: "The requested resource of type %1 named '%2' was not found.", severity: 'Critical', resolution: 'Provide a valid resource identifier and resubmit the request.' },
  PayloadTooLarge: { message: 'The supplied payload exceeds the maximum size supported by the service.', severity: 'Critical', resolution: 'Check that the supplied payload is correct and supported by this service.' },
  NoValidSession: { message: 'There is no valid session established with the implementation.', severity: 'Critical', resolution: 'Establish a session before attempting any operations.' },
  InsufficientPrivilege: {
    message: 'There are insufficient privileges for the account or credentials associated with the current session to perform the requested operation.',
    severity: 'Critical',
    resolution: 'Either abandon the operation or change the associated access rights and resubmit the request if the operation failed.',
  },
  AccountModified: { message: 'The account was successfully modified.', severity: 'OK', resolution: 'No resolution is required.' },
  AccountRemoved: { message: 'The account was successfully removed.', severity: 'OK', resolution: 'No resolution is required.' },
  InternalError: { message: 'The request failed due to an internal service error.  The service is still operational.', severity: 'Critical', resolution: 'Resubmit the request.  If the problem persists, consider resetting the service.' },
  ServiceTemporarilyUnavailable: { message: 'The service is temporarily unavailable.  Retry in %1 seconds.', severity: 'Critical', resolution: 'Wait for the indicated retry duration and retry the operation.' },
  SessionTerminated: { message: 'The session was successfully terminated.', severity: 'OK', resolution: 'No resolution is required.' },
  PasswordChangeRequired: {
    message: "The password provided for this account must be changed before access is granted.  PATCH the Password property for this account located at the target URI '%1' to complete this process.",
    severity: 'Critical',
    resolution: 'Change the password for this account using a PATCH to the Password property at the URI provided.',
  },
  PreconditionFailed: { message: 'The ETag supplied did not match the ETag required to change this resource.', severity: 'Critical', resolution: 'Try the operation again using the appropriate ETag.' },
  HeaderInvalid: { message: "Header '%1' is invalid.", severity: 'Critical', resolution: 'Resubmit the request with a valid request header.' },
  OperationNotAllowed: { message: 'The HTTP method is not allowed on this resource.', severity: 'Critical', resolution: 'None.' },
} as const satisfies Record<string, Entry>;

export type MessageKey = keyof typeof BASE_MESSAGES;

/** Which argument of a property message names the property (for RelatedProperties). */
const PROPERTY_ARG: Partial<Record<MessageKey, number>> = {
  PropertyUnknown: 0,
  PropertyMissing: 0,
  PropertyNotWritable: 0,
  PropertyValueError: 0,
  PropertyValueIncorrect: 0,
  PropertyValueModified: 0,
  PropertyValueTypeError: 1,
  PropertyValueNotInList: 1,
  PropertyValueOutOfRange: 1,
  ActionParameterMissing: 1,
  ActionParameterUnknown: 1,
  ActionParameterValueTypeError: 1,
  ActionParameterValueError: 0,
};

/** One entry of `@Message.ExtendedInfo` (Message.v1_1_1). */
export interface RedfishMessage {
  '@odata.type': '#Message.v1_1_1.Message';
  MessageId: string;
  /** JSON pointers to the request properties the message is about (DSP0266 "Message object"). */
  RelatedProperties?: string[];
  Message: string;
  MessageArgs: string[];
  MessageSeverity: Severity;
  /** Deprecated in Message v1_1_0 but still read by clients (sushy picks the most severe message by it). */
  Severity: Severity;
  Resolution: string;
}

/** Longest argument echoed back (a value from the request is shown, shortened). */
const MAX_ARG = 100;

function arg(v: string): string {
  return v.length > MAX_ARG ? `${v.slice(0, MAX_ARG)}…` : v;
}

/**
 * A Base registry message with its arguments filled in.
 * @example message('PropertyMissing', 'UserName').Message === 'The property UserName is a required property and must be included in the request.'
 */
export function message(key: MessageKey, ...args: string[]): RedfishMessage {
  const e: Entry = BASE_MESSAGES[key];
  const shown = args.map(arg);
  const text = e.message.replace(/%(\d+)/g, (_m, n: string) => shown[Number(n) - 1] ?? '');
  const propertyArg = PROPERTY_ARG[key];
  const property = propertyArg === undefined ? undefined : shown[propertyArg];
  return {
    '@odata.type': '#Message.v1_1_1.Message',
    MessageId: `${BASE_REGISTRY}.${key}`,
    ...(property !== undefined && { RelatedProperties: [`#/${property.replaceAll('~', '~0').replaceAll('/', '~1')}`] }),
    Message: text,
    MessageArgs: shown,
    MessageSeverity: e.severity,
    Severity: e.severity,
    Resolution: e.resolution,
  };
}

/**
 * `{"error": {code, message, @Message.ExtendedInfo}}`. One message names the error
 * itself; several are summed up as GeneralError in `code` only (DSP0266 "Message
 * object"). `detail` says more in words.
 */
export function errorBody(messages: RedfishMessage[], detail?: string) {
  const first = messages.length === 1 ? messages[0]! : message('GeneralError');
  return {
    error: {
      code: first.MessageId,
      message: detail ? `${first.Message} ${detail}` : first.Message,
      '@Message.ExtendedInfo': messages,
    },
  };
}

/** A value from the request as a message argument (never for secrets). */
export function shown(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
