/** Named shapes of the server's API, from the generated OpenAPI types (`npm run gen:api`). */
import type { components } from "@/api/schema.gen";

type Schemas = components["schemas"];
export type Conversation = Schemas["ConversationOut"];
export type ConversationSummary = Schemas["ConversationSummaryOut"];
export type Message = Schemas["MessageOut"];
export type MessagePage = Schemas["MessagePage"];
export type Member = Schemas["MemberOut"];
export type MemberPage = Schemas["MemberPage"];
export type PublicUser = Schemas["PublicUserOut"];
export type Me = Schemas["MeOut"];
export type Tokens = Schemas["TokensOut"];
export type LoginOut = Schemas["LoginOut"];
export type Prelogin = Schemas["PreloginOut"];
export type RegisterIn = Schemas["RegisterIn"];
export type KdfParamsWire = Schemas["KdfParamsIn"];
export type SendAck = Schemas["SendAck"];
export type Ticket = Schemas["TicketOut"];
