package zzdsim

// Wire shapes. Field order follows captured answers.

type envelope struct {
	Success      bool     `json:"success"`
	Content      *content `json:"content,omitempty"`
	BizErrorCode string   `json:"bizErrorCode"`
}

type content struct {
	Success         bool   `json:"success"`
	Data            any    `json:"data,omitempty"`
	RequestID       string `json:"requestId"`
	ResponseMessage string `json:"responseMessage"`
	ResponseCode    string `json:"responseCode"`
	BizErrorCode    string `json:"bizErrorCode"`
}

type gatewayBody struct {
	Success      bool   `json:"success"`
	Code         string `json:"Code"`
	Message      string `json:"Message"`
	ErrorCode    string `json:"errorCode"`
	ErrorMsg     string `json:"errorMsg"`
	RequestID    string `json:"_RequestId"`
	BizErrorCode string `json:"bizErrorCode"`
}

type tokenData struct {
	AccessToken string `json:"accessToken"`
	ExpiresIn   int64  `json:"expiresIn"`
}

type userInfo struct {
	AccountID    int64  `json:"accountId"`
	LastName     string `json:"lastName"`
	ClientID     string `json:"clientId"`
	RealmID      int64  `json:"realmId"`
	OpenID       string `json:"openid,omitempty"`
	TenantName   string `json:"tenantName"`
	RealmName    string `json:"realmName"`
	Namespace    string `json:"namespace"`
	TenantID     int64  `json:"tenantId"`
	NickNameCn   string `json:"nickNameCn"`
	TenantUserID string `json:"tenantUserId"`
	Account      string `json:"account"`
	EmployeeCode string `json:"employeeCode,omitempty"` // absent for super-admins
	Avatar       string `json:"avatar,omitempty"`
}

type positionOut struct {
	MainJob                       bool   `json:"mainJob"`
	GmtCreate                     string `json:"gmtCreate"`
	EmployeeCode                  string `json:"employeeCode"`
	OrganizationCode              string `json:"organizationCode"`
	Status                        string `json:"status"`
	Order                         int    `json:"order"`
	OrderInOrganization           int    `json:"orderInOrganization"`
	GovEmpPosAddress              string `json:"govEmpPosAddress"`
	GovEmpPosPhoneNo              string `json:"govEmpPosPhoneNo"`
	GovEmpPosJob                  string `json:"govEmpPosJob"`
	EmpPosUnitCode                string `json:"empPosUnitCode"`
	EmpPosInnerInstitutionCode    string `json:"empPosInnerInstitutionCode"`
	EmpPosDepartmentCode          string `json:"empPosDepartmentCode"`
	EmpPosVirtualOrganizationCode string `json:"empPosVirtualOrganizationCode"`
	EmpPosFaxNo                   string `json:"empPosFaxNo"`
	EmpPosEmployeeRoleCode        string `json:"empPosEmployeeRoleCode"`
	JobAttributesCode             string `json:"jobAttributesCode"`
	PosJobRankCode                string `json:"posJobRankCode"`
	VisibilityIndicatorCode       string `json:"visibilityIndicatorCode"`
}

type organizationOut struct {
	GmtCreate            string `json:"gmtCreate,omitempty"`
	TypeName             string `json:"typeName"`
	OrganizationName     string `json:"organizationName"`
	TypeCode             string `json:"typeCode"`
	DisplayOrder         int    `json:"displayOrder"`
	ParentName           string `json:"parentName,omitempty"`
	ParentCode           string `json:"parentCode,omitempty"`
	OrganizationCode     string `json:"organizationCode"`
	Status               string `json:"status"`
	ShortName            string `json:"shortName,omitempty"`
	DivisionCode         string `json:"divisionCode,omitempty"`
	InstitutionLevelCode string `json:"institutionLevelCode,omitempty"`
	Leaf                 bool   `json:"leaf"`
}

type employeeOut struct {
	EmployeeName           string `json:"employeeName"`
	GmtCreate              string `json:"gmtCreate,omitempty"`
	Status                 string `json:"status"`
	EmployeeCode           string `json:"employeeCode"`
	EmpGender              string `json:"empGender,omitempty"`
	GovEmpRemarks          string `json:"govEmpRemarks,omitempty"`
	GovEmpAvatar           string `json:"govEmpAvatar,omitempty"`
	EmpJobLevelCode        string `json:"empJobLevelCode"`
	EmpBudgetedPostCode    string `json:"empBudgetedPostCode"`
	EmpPoliticalStatusCode string `json:"empPoliticalStatusCode"`
}

// badGatewayPage is what the gateway's front proxy (Tengine) answers when
// the backend is down.
const badGatewayPage = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>Tengine</center>\r\n</body>\r\n</html>\r\n"
