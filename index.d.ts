// Type definitions for raftq-native: raftq 1.0.0's public API, plus a few extras.

/** A node id. Ids keep their JS type: `0` and `'0'` are different nodes. */
export type RaftNodeId = string | number;

/** A cluster member as the app announces it (`ackNode`). Extra fields are kept. */
export interface RaftNode {
  id: RaftNodeId;
  /** Truthy: the node is (still) a member. Falsy (`0`): it left the cluster. */
  time?: number;
  [key: string]: any;
}

export declare enum RaftRole {
  CANDIDATE = 1,
  FOLLOWER = 2,
  LEADER = 3,
}

/** What `persistAgent` stores and restores. raftq 1.0.0's `{ term, votedFor, data }` restores too. */
export interface RaftPersistentData {
  term: number;
  votedFor: RaftNodeId | null;
  data: any;
  /** Version of `data` (absent in raftq 1.0.0 files). */
  dataTerm?: number;
  dataIndex?: number;
  /** Newest version known committed. */
  commitTerm?: number;
  commitIndex?: number;
  /** The committed version's value, present when it differs from `data`'s version. */
  committedData?: any;
  /** `options.cluster`, when set. */
  cluster?: string;
  [key: string]: any;
}

export interface RaftPersistAgent {
  persist(node: RaftNode, data: RaftPersistentData): Promise<void> | void;
  restore(node: RaftNode): Promise<RaftPersistentData | undefined | null> | RaftPersistentData | undefined | null;
}

export interface RaftqOptions {
  /** The leader's heartbeat interval (ms). */
  heartbeat: number;
  /** Lower bound of the randomised election timeout (ms). */
  minimumElectionTime: number;
  /** Upper bound of the randomised election timeout (ms). */
  maximumElectionTime: number;
  persistAgent: RaftPersistAgent;
  /**
   * Extra: a shared secret (the UTF-8 of a string, or the bytes of a Buffer/Uint8Array; use at
   * least 32 random bytes) set on every node. Outgoing bodies then carry `tag`, an HMAC-SHA-256,
   * and incoming bodies without a valid tag are dropped (counted in
   * `getStatus().unauthenticated`). Bodies stay readable: this authenticates, it does not encrypt.
   */
  secret?: string | Uint8Array;
  /**
   * Extra: the cluster's name (1 to 256 characters). Signed into every tag with a `secret`, and
   * stored in the persisted state: a node does not start from another cluster's state.
   */
  cluster?: string;
}

/** Fields every outgoing message carries. */
export interface RaftOutgoingBody {
  /** The member to ship the message to, as acked (or `{ id }` if it was never acked). */
  destination: RaftNode;
  /** `minimumElectionTime / 2`: a sensible transport timeout (ms). */
  timeout: number;
  term: number;
  /** With `options.secret`: the body's HMAC-SHA-256, 64 hex digits. */
  tag?: string;
  [key: string]: any;
}

export interface RaftVoteRequestBody extends RaftOutgoingBody {
  candidate: RaftNode;
  preVote?: boolean;
  lastTerm: number;
  lastIndex: number;
  transfer?: boolean;
}

export interface RaftVoteResponseBody extends RaftOutgoingBody {
  voter: RaftNode;
  granted: boolean;
  preVote?: boolean;
}

export interface RaftDataBody extends RaftOutgoingBody {
  node: RaftNode;
  /** The replicated data (only when the receiver may lack this version). */
  data?: any;
  dataTerm: number;
  dataIndex: number;
  commitTerm: number;
  commitIndex: number;
  transfer?: boolean;
}

export interface RaftDataResponseBody extends RaftOutgoingBody {
  node: RaftNode;
  success: boolean;
  dataTerm: number;
  dataIndex: number;
}

export interface RaftServiceStartedBody {
  node: RaftNode;
}

export interface RaftServerCrashedBody {
  reason: string;
}

export interface RaftLogBody {
  message: string;
}

export interface RaftMessageType {
  serviceStarted: RaftServiceStartedBody;
  serviceCrashed: RaftServerCrashedBody;
  ackNode: RaftNode;
  replicateData: any;
  voteRequest: RaftVoteRequestBody;
  voteRequestReceived: RaftVoteRequestBody;
  voteResponse: RaftVoteResponseBody;
  voteResponseReceived: RaftVoteResponseBody;
  syncData: RaftDataBody;
  dataReceived: RaftDataBody;
  dataResponse: RaftDataResponseBody;
  dataResponseReceived: RaftDataResponseBody;
  roleChanged: RaftRole;
  log: RaftLogBody;
  /** Extra: the data `getData()` returns changed. */
  dataChanged: any;
  /** Extra: the known leader changed. */
  leaderChanged: RaftNodeId | null;
}

export type RaftEventType = keyof RaftMessageType;

export interface RaftVersion {
  term: number;
  index: number;
}

/** Extra: a snapshot of the node. */
export interface RaftStatus {
  id: RaftNodeId | null;
  role: RaftRole;
  preCandidate: boolean;
  term: number;
  votedFor: RaftNodeId | null;
  leader: RaftNodeId | null;
  version: RaftVersion;
  commit: RaftVersion;
  members: RaftNodeId[];
  persist: { requested: number; done: number };
  /** Malformed incoming messages rejected so far. */
  rejected: number;
  /** Replies held until a persist completes (the newest per destination and channel, 256 at most). */
  held: number;
  /** Incoming messages ignored so far because their sender is not a member (never acked, or removed). */
  strangers: number;
  /** Outgoing messages dropped so far because their destination is no longer a member. */
  dropped: number;
  /** With `options.secret`: incoming messages dropped for lack of a valid tag (0 without). */
  unauthenticated: number;
  /** Data values held (one per version the core still needs; the others are released). */
  values: number;
}

export declare class Raftq {
  constructor(options: RaftqOptions);
  /** The current leader's id, or `null`. */
  getLeader(): RaftNodeId | null;
  getRole(): RaftRole;
  /** The very object passed as `serviceStarted`'s `node` (a placeholder before the start). */
  getNode(): RaftNode;
  /** The other members, as acked. */
  getFollowers(): RaftNode[];
  /** The replicated data (`{}` on a fresh node). */
  getData(): any;
  /** Run every listener of `type` (and the node's own handling); never rejects. */
  dispatch<T extends RaftEventType>(type: T, message: RaftMessageType[T]): Promise<void>;
  /** Listen to an event; returns the unsubscribe function. */
  subscribe<T extends RaftEventType>(type: T, listener: (message: RaftMessageType[T]) => any): () => void;
  /** Persist, stop the timers, remove the listeners. The process can exit afterwards. */
  destroy(): Promise<void>;

  /** Extra: a snapshot of the node's Raft state. */
  getStatus(): RaftStatus;
  /** Extra: hand leadership over (to `id`, or the most up-to-date follower); true once another leader is known. */
  transferLeadership(id?: RaftNodeId): Promise<boolean>;
  /** Extra: replicate `data` from the leader; true once it is committed. */
  replicate(data: any): Promise<boolean>;
}
