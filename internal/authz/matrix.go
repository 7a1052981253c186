package authz

// Action is something a principal does, named resource.verb.
type Action string

// rule says who may perform an action.
type rule struct {
	roles     []Role // user roles in the resource's tenant
	operators []Role // operator roles
	// tenantMetadata lets the operator roles act on a tenant's resource
	// (tenant metadata only — never its data).
	tenantMetadata bool
	scope          Scope      // the API-key scope that allows it; "" = not for keys
	self           bool       // any user or operator may do it to their own things
	grant          GrantScope // operators may, under a grant of this scope
	system         bool       // Valv's jobs may
}

var (
	all         = []Role{Owner, Admin, Member, Auditor}
	managers    = []Role{Owner, Admin}
	ownerOnly   = []Role{Owner}
	auditors    = []Role{Owner, Auditor}
	workers     = []Role{Owner, Admin, Member}
	readers     = []Role{Owner, Admin, Auditor}
	bothOps     = []Role{RoleOperator, RoleSecurity}
	securityOps = []Role{RoleSecurity}
)

// The actions. docs/roles.md lists them with the matrix.
const (
	TenantCreate         Action = "tenant.create"
	TenantList           Action = "tenant.list"
	TenantRead           Action = "tenant.read"
	TenantSuspend        Action = "tenant.suspend"
	TenantDelete         Action = "tenant.delete"
	TenantSettingsRead   Action = "tenant.settings.read"
	TenantSettingsUpdate Action = "tenant.settings.update"
	OIDCConfigure        Action = "tenant.oidc.configure"

	UserList   Action = "user.list"
	UserRead   Action = "user.read"
	UserCreate Action = "user.create"
	UserUpdate Action = "user.update"
	UserDelete Action = "user.delete"
	// UserMakeOwner is granting or removing the owner role (ownership transfer).
	UserMakeOwner Action = "user.role.owner"

	OperatorCreate Action = "operator.create"
	OperatorList   Action = "operator.list"

	// Own account: sessions, password, second factors.
	SelfRead          Action = "self.read"
	SelfSessions      Action = "self.sessions"
	SelfCredentials   Action = "self.credentials"
	SessionsRevokeAny Action = "session.revoke"

	KeysManage Action = "sys.keys.manage"

	// Threat protection (GRD-2): the block and allow lists.
	GuardList   Action = "guard.list"
	GuardManage Action = "guard.manage"

	// ConsoleRead is the operator console's status page: key, job,
	// backup and block state (no tenant data).
	ConsoleRead Action = "console.read"

	// ReportMeasures is a tenant's measures report (EVD-1): settings and
	// counts, no personal data.
	ReportMeasures Action = "report.measures"

	APIKeyList   Action = "apikey.list"
	APIKeyCreate Action = "apikey.create"
	APIKeyUpdate Action = "apikey.update"
	APIKeyRevoke Action = "apikey.revoke"

	// AuditRead is reading a tenant's audit trail, its checkpoints and
	// proofs (owners, auditors; operators under an audit grant).
	AuditRead Action = "audit.read"
	// AuditPlatformRead is reading the platform's own chain.
	AuditPlatformRead Action = "audit.platform.read"
	// AuditHistoryRead is reading the tenant's payload history.
	AuditHistoryRead Action = "audit.history.read"

	// DataValidate is the validate-only API (VAL-3).
	DataValidate Action = "data.validate"

	DocumentCreate Action = "document.create"
	DocumentRead   Action = "document.read"
	DocumentList   Action = "document.list"
	DocumentUpdate Action = "document.update"
	DocumentDelete Action = "document.delete"
	// DocumentTypeRead and DocumentTypeManage are the registered document
	// types and their schemas.
	DocumentTypeRead   Action = "document.type.read"
	DocumentTypeManage Action = "document.type.manage"
	// DocumentReview is a reviewer's decision on a due review (RET-4).
	DocumentReview Action = "document.review"

	// RetentionRead and RetentionManage are the tenant's retention policy
	// and rules (RET-1..3); RetentionContract is declaring the 6+1 archive
	// contract, which decides how long bookkeeping is kept (owners only).
	RetentionRead     Action = "retention.read"
	RetentionManage   Action = "retention.manage"
	RetentionContract Action = "retention.contract"
	// HoldRead and HoldManage are legal holds (RET-3).
	HoldRead   Action = "retention.hold.read"
	HoldManage Action = "retention.hold.manage"
	// CullReportRead is reading culling reports (RET-5).
	CullReportRead Action = "retention.report.read"
	// RetentionCull is culling: Valv's job, or a security operator at the
	// server's console (valv retention run).
	RetentionCull Action = "retention.cull"
	// SubjectRequestCreate and SubjectRequestRead are data-subject requests
	// (GDPR-1..4): register extracts, portability, anonymisation, erasure
	// and restriction, made for a data subject by the organisation.
	SubjectRequestCreate Action = "gdpr.request.create"
	SubjectRequestRead   Action = "gdpr.request.read"
	// SubjectImport loads a portability package into the tenant.
	SubjectImport Action = "gdpr.import"
	// TerminationRead is seeing a pending account termination (TEN-3);
	// requesting and cancelling one is TenantDelete (owners).
	TerminationRead Action = "tenant.termination.read"

	// Messages (MSG-1..4). MessageSend is sending to another tenant's
	// inbox or an agreed endpoint; MessageRead is the outbox, the inbox
	// and transaction logs; MessageAck acknowledges a received message;
	// MessageResend sends a dead letter again; MessageReceive is a
	// partner delivering a message to the tenant (API keys with the
	// messages:receive scope only).
	MessageSend    Action = "message.send"
	MessageRead    Action = "message.read"
	MessageAck     Action = "message.ack"
	MessageResend  Action = "message.resend"
	MessageReceive Action = "message.receive"
	// EndpointRead and EndpointManage are the tenant's external message
	// endpoints; EndpointApprove is a platform operator agreeing to (or
	// refusing, or revoking) a transfer to one (MSG-2: only agreed
	// transfers leave the platform).
	EndpointRead    Action = "message.endpoint.read"
	EndpointManage  Action = "message.endpoint.manage"
	EndpointApprove Action = "message.endpoint.approve"

	// Operator access (OPS-1..3, AZ-4). AccessRequest is an operator
	// asking for time-boxed access to a tenant's data; AccessDecide is a
	// security operator (not the requester) approving or denying it;
	// AccessBreakGlass is a security operator taking emergency access
	// without an approval; AccessRevoke ends a grant (security operators,
	// the requester, the tenant's owner); AccessList is the platform's
	// list of requests; AccessRead is reading requests on a tenant (its
	// owners, admins and auditors see who asked for what, and why);
	// AccessConsent is the tenant's owner giving or refusing consent.
	AccessRequest    Action = "access.request"
	AccessDecide     Action = "access.decide"
	AccessBreakGlass Action = "access.break_glass"
	AccessRevoke     Action = "access.revoke"
	AccessList       Action = "access.list"
	AccessRead       Action = "access.read"
	AccessConsent    Action = "access.consent"
)

// The scopes an API key can carry. docs/roles.md says what each allows.
const (
	ScopeTenantRead      Scope = "tenant:read"
	ScopeUsersRead       Scope = "users:read"
	ScopeDocumentsRead   Scope = "documents:read"
	ScopeDocumentsWrite  Scope = "documents:write"
	ScopeMessagesRead    Scope = "messages:read"
	ScopeMessagesSend    Scope = "messages:send"
	ScopeMessagesReceive Scope = "messages:receive"
	ScopeAuditRead       Scope = "audit:read"
	ScopeGDPRManage      Scope = "gdpr:manage"
	ScopeRetentionManage Scope = "retention:manage"
	ScopeValidate        Scope = "validate"
)

// Scopes lists every scope.
var Scopes = []Scope{ScopeTenantRead, ScopeUsersRead, ScopeDocumentsRead, ScopeDocumentsWrite, ScopeMessagesRead,
	ScopeMessagesSend, ScopeMessagesReceive, ScopeAuditRead, ScopeGDPRManage, ScopeRetentionManage, ScopeValidate}

// ValidScope reports whether s is a scope.
func ValidScope(s Scope) bool {
	for _, x := range Scopes {
		if x == s {
			return true
		}
	}
	return false
}

var matrix = map[Action]rule{
	TenantCreate:         {operators: bothOps},
	TenantList:           {operators: bothOps},
	TenantRead:           {roles: all, operators: bothOps, tenantMetadata: true, scope: ScopeTenantRead},
	TenantSuspend:        {operators: bothOps, tenantMetadata: true},
	TenantDelete:         {roles: ownerOnly},
	TenantSettingsRead:   {roles: managers},
	TenantSettingsUpdate: {roles: managers},
	OIDCConfigure:        {roles: managers},

	UserList:      {roles: managers, scope: ScopeUsersRead},
	UserRead:      {roles: managers, self: true, scope: ScopeUsersRead},
	UserCreate:    {roles: managers},
	UserUpdate:    {roles: managers},
	UserDelete:    {roles: managers},
	UserMakeOwner: {roles: ownerOnly},

	OperatorCreate: {operators: securityOps},
	OperatorList:   {operators: securityOps},

	SelfRead:          {self: true},
	SelfSessions:      {self: true},
	SelfCredentials:   {self: true},
	SessionsRevokeAny: {roles: managers},

	KeysManage: {operators: securityOps},

	GuardList:   {operators: bothOps},
	GuardManage: {operators: securityOps},
	ConsoleRead: {operators: bothOps},

	ReportMeasures: {roles: readers, operators: bothOps, tenantMetadata: true, scope: ScopeAuditRead},

	APIKeyList:   {roles: managers},
	APIKeyCreate: {roles: managers},
	APIKeyUpdate: {roles: managers},
	APIKeyRevoke: {roles: managers},

	AuditRead:         {roles: auditors, scope: ScopeAuditRead, grant: GrantAudit},
	AuditPlatformRead: {operators: securityOps},
	AuditHistoryRead:  {roles: managers},

	DataValidate: {roles: all, scope: ScopeValidate},

	DocumentCreate:     {roles: workers, scope: ScopeDocumentsWrite},
	DocumentRead:       {roles: workers, scope: ScopeDocumentsRead, grant: GrantDocumentsOfType},
	DocumentList:       {roles: workers, scope: ScopeDocumentsRead, grant: GrantDocumentsOfType},
	DocumentUpdate:     {roles: workers, scope: ScopeDocumentsWrite},
	DocumentDelete:     {roles: workers, scope: ScopeDocumentsWrite},
	DocumentTypeRead:   {roles: workers, scope: ScopeDocumentsRead},
	DocumentTypeManage: {roles: managers},
	DocumentReview:     {roles: workers, scope: ScopeDocumentsWrite},

	RetentionRead:     {roles: readers, scope: ScopeRetentionManage},
	RetentionManage:   {roles: managers, scope: ScopeRetentionManage},
	RetentionContract: {roles: ownerOnly},
	HoldRead:          {roles: readers, scope: ScopeRetentionManage},
	HoldManage:        {roles: managers, scope: ScopeRetentionManage},
	CullReportRead:    {roles: auditors, scope: ScopeRetentionManage},
	RetentionCull:     {operators: securityOps, system: true},

	SubjectRequestCreate: {roles: managers, scope: ScopeGDPRManage},
	SubjectRequestRead:   {roles: managers, scope: ScopeGDPRManage},
	SubjectImport:        {roles: managers, scope: ScopeGDPRManage},
	TerminationRead:      {roles: managers},

	MessageSend:     {roles: workers, scope: ScopeMessagesSend},
	MessageRead:     {roles: workers, scope: ScopeMessagesRead, grant: GrantMessages},
	MessageAck:      {roles: workers, scope: ScopeMessagesRead},
	MessageResend:   {roles: workers, scope: ScopeMessagesSend},
	MessageReceive:  {scope: ScopeMessagesReceive},
	EndpointRead:    {roles: workers, operators: bothOps, tenantMetadata: true, scope: ScopeMessagesSend},
	EndpointManage:  {roles: managers},
	EndpointApprove: {operators: bothOps, tenantMetadata: true},

	AccessRequest:    {operators: bothOps, tenantMetadata: true},
	AccessDecide:     {operators: securityOps, tenantMetadata: true},
	AccessBreakGlass: {operators: securityOps, tenantMetadata: true},
	AccessRevoke:     {roles: ownerOnly, operators: securityOps, tenantMetadata: true, self: true},
	AccessList:       {operators: bothOps},
	AccessRead:       {roles: readers, operators: bothOps, tenantMetadata: true},
	AccessConsent:    {roles: ownerOnly},
}

// Actions lists every action in the matrix.
func Actions() []Action {
	out := make([]Action, 0, len(matrix))
	for a := range matrix {
		out = append(out, a)
	}
	return out
}
