"""MLflow's basic-auth REST API, plus modelyard's access tokens and protected aliases.

Same paths, verbs and shapes as `mlflow server --app-name basic-auth`, so
`mlflow.server.get_app_client("basic-auth", ...)` works unchanged:

* users: `users/create|get|current|list|update-password|update-admin|delete`;
* classic grants (2.x clients): `experiments/permissions/*`,
  `registered-models/permissions/*` (create POST, get GET, update PATCH,
  delete DELETE);
* 3.x: `/api/3.0/mlflow/users/permissions/{grant,revoke,get,list}`,
  `users/current/permissions`, `users/roles/list` and `roles/*`.

modelyard's own, under `/api/modelyard/v1/`: `tokens/create|list|revoke`
and `registered-models/protected-aliases` (GET, POST).

With authentication off these routes answer ENDPOINT_NOT_FOUND with a
sentence saying how to turn it on. Rules for each route are in
`PERMISSIONS` below.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Route

from modelyard.errors import EndpointNotFound, InvalidParameterValue
from modelyard.http.args import Args
from modelyard.http.auth_rules import ADMIN, SELF, USER, Rule, exp, model
from modelyard.http.endpoint import Ctx, RouteSpec, api
from modelyard.service.auth_grants import PermissionRow
from modelyard.service.auth_users import AuthUsers
from modelyard.service.permissions import MANAGE, RANK, READ
from modelyard.store.sql.auth import Grant, Role, RolePermission, Token, User

Json = dict[str, Any]


def _users(ctx: Ctx) -> AuthUsers:
    users: AuthUsers | None = ctx.services.extra.get("auth_users")
    if users is None:
        raise EndpointNotFound(
            "Authentication is off on this server; start it with --auth (or "
            "--app-name basic-auth) to manage users and permissions."
        )
    return users


def _grants(ctx: Ctx) -> Any:
    from modelyard.service.auth_grants import Grants

    users = _users(ctx)
    return Grants(users.store, users.permissions)


# -- shapes ---------------------------------------------------------------------------
def user_json(user: User, users: AuthUsers) -> Json:
    exp_grants, model_grants = users.store.grants_of_user(user.id)
    return {
        "id": user.id,
        "username": user.username,
        "is_admin": user.is_admin,
        "experiment_permissions": [exp_grant_json(g) for g in exp_grants],
        "registered_model_permissions": [model_grant_json(g) for g in model_grants],
        "scorer_permissions": [],
    }


def exp_grant_json(g: Grant) -> Json:
    return {"experiment_id": g.resource, "user_id": g.user_id, "permission": g.permission}


def model_grant_json(g: Grant) -> Json:
    return {"name": g.resource, "user_id": g.user_id, "permission": g.permission}


def role_perm_json(p: RolePermission) -> Json:
    return {
        "id": p.id,
        "role_id": p.role_id,
        "resource_type": p.resource_type,
        "resource_pattern": p.resource_pattern,
        "permission": p.permission,
    }


def role_json(role: Role, users: AuthUsers) -> Json:
    body: Json = {
        "id": role.id,
        "name": role.name,
        "workspace": role.workspace,
        "permissions": [role_perm_json(p) for p in users.store.list_role_permissions(role.id)],
    }
    if role.description is not None:
        body["description"] = role.description
    return body


def token_json(t: Token) -> Json:
    body: Json = {"name": t.name, "username": t.username, "creation_time": t.creation_time}
    if t.expiry_time is not None:
        body["expiry_time"] = t.expiry_time
    return body


def _row_json(r: PermissionRow) -> Json:
    return {
        "role_id": r.role_id,
        "role_name": r.role_name,
        "workspace": r.workspace,
        "resource_type": r.resource_type,
        "resource_pattern": r.resource_pattern,
        "permission": r.permission,
    }


# -- users ----------------------------------------------------------------------------
def create_user(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    user = users.create_user(args.opt_str("username"), args.opt_str("password"))
    return {"user": user_json(user, users)}


def get_user(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    return {"user": user_json(users.get_user(args.opt_str("username")), users)}


def current_user(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    user = users.get_user(ctx.identity.user)
    return {
        "user": {"id": user.id, "username": user.username, "is_admin": user.is_admin},
        "is_basic_auth": True,
    }


def list_users(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    return {
        "users": [
            {"id": u.id, "username": u.username, "is_admin": u.is_admin, "roles": []}
            for u in users.list_users()
        ]
    }


def update_password(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    username = args.opt_str("username")
    caller = ctx.identity.user
    if caller is not None and username == caller:
        # A hijacked session must not silently rotate the password: ask for the old one.
        current = args.opt_str("current_password")
        if not current:
            raise InvalidParameterValue(
                "Current password is required when changing your own password."
            )
        users.check_password(caller, current, _address(ctx))
    users.update_password(username, args.opt_str("password"))
    return {}


def update_admin(ctx: Ctx, args: Args) -> Json:
    _users(ctx).update_admin(args.opt_str("username"), args.opt_bool("is_admin"))
    return {}


def delete_user(ctx: Ctx, args: Args) -> Json:
    _users(ctx).delete_user(args.opt_str("username"))
    return {}


def _address(ctx: Ctx) -> str:
    client = ctx.request.client
    return client.host if client else "unknown"


# -- classic grants -------------------------------------------------------------------
def _classic(kind: str, field: str, key: str, shape: Any) -> dict[str, Any]:
    def create(ctx: Ctx, args: Args) -> Json:
        g = _grants(ctx).create(
            kind, args.str(field), args.opt_str("username"), args.opt_str("permission")
        )
        return {key: shape(g)}

    def get(ctx: Ctx, args: Args) -> Json:
        return {key: shape(_grants(ctx).get(kind, args.str(field), args.opt_str("username")))}

    def update(ctx: Ctx, args: Args) -> Json:
        _grants(ctx).update(
            kind, args.str(field), args.opt_str("username"), args.opt_str("permission")
        )
        return {}

    def delete(ctx: Ctx, args: Args) -> Json:
        _grants(ctx).delete(kind, args.str(field), args.opt_str("username"))
        return {}

    return {"create": create, "get": get, "update": update, "delete": delete}


_EXP = _classic("experiment", "experiment_id", "experiment_permission", exp_grant_json)
_MODEL = _classic("registered_model", "name", "registered_model_permission", model_grant_json)


# -- 3.x grants -------------------------------------------------------------------------
def grant(ctx: Ctx, args: Args) -> Json:
    grants = _grants(ctx)
    rtype, rid = args.opt_str("resource_type") or "", args.opt_str("resource_id") or ""
    grants.require_manage(ctx.identity.user, rtype, rid)
    grants.grant(args.opt_str("username"), rtype, rid, args.opt_str("permission"))
    return {}


def revoke(ctx: Ctx, args: Args) -> Json:
    grants = _grants(ctx)
    rtype, rid = args.opt_str("resource_type") or "", args.opt_str("resource_id") or ""
    grants.require_manage(ctx.identity.user, rtype, rid)
    grants.revoke(args.opt_str("username"), rtype, rid)
    return {}


def get_permission(ctx: Ctx, args: Args) -> Json:
    level = _grants(ctx).effective(
        args.opt_str("username"), args.opt_str("resource_type"), args.opt_str("resource_id")
    )
    return {"allowed": RANK[level] >= RANK[READ], "permission": level}


def list_permissions(ctx: Ctx, args: Args) -> Json:
    user, rows = _grants(ctx).rows_of(args.opt_str("username"))
    return {"is_admin": user.is_admin, "permissions": [_row_json(r) for r in rows]}


def current_permissions(ctx: Ctx, args: Args) -> Json:
    user, rows = _grants(ctx).rows_of(ctx.identity.user)
    return {"is_admin": user.is_admin, "permissions": [_row_json(r) for r in rows]}


# -- roles ------------------------------------------------------------------------------
def create_role(ctx: Ctx, args: Args) -> Json:
    role = _grants(ctx).create_role(
        args.opt_str("workspace"), args.opt_str("name"), args.opt_str("description")
    )
    return {"role": role_json(role, _users(ctx))}


def get_role(ctx: Ctx, args: Args) -> Json:
    return {"role": role_json(_users(ctx).store.get_role(args.int("role_id")), _users(ctx))}


def list_roles(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    return {
        "roles": [role_json(r, users) for r in users.store.list_roles(args.opt_str("workspace"))]
    }


def update_role(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    role = users.store.update_role(
        args.int("role_id"), args.opt_str("name"), args.opt_str("description")
    )
    return {"role": role_json(role, users)}


def delete_role(ctx: Ctx, args: Args) -> Json:
    _grants(ctx).delete_role(args.int("role_id"))
    return {}


def add_role_permission(ctx: Ctx, args: Args) -> Json:
    perm = _grants(ctx).add_role_permission(
        args.int("role_id"),
        args.opt_str("resource_type"),
        args.opt_str("resource_pattern"),
        args.opt_str("permission"),
    )
    return {"role_permission": role_perm_json(perm)}


def remove_role_permission(ctx: Ctx, args: Args) -> Json:
    _grants(ctx).remove_role_permission(args.int("role_permission_id"))
    return {}


def list_role_permissions(ctx: Ctx, args: Args) -> Json:
    perms = _users(ctx).store.list_role_permissions(args.int("role_id"))
    return {"role_permissions": [role_perm_json(p) for p in perms]}


def update_role_permission(ctx: Ctx, args: Args) -> Json:
    perm = _grants(ctx).update_role_permission(
        args.int("role_permission_id"), args.opt_str("permission")
    )
    return {"role_permission": role_perm_json(perm)}


def assign_role(ctx: Ctx, args: Args) -> Json:
    role_id = args.int("role_id")
    assignment, user = _grants(ctx).assign(args.opt_str("username"), role_id)
    return {"assignment": {"id": assignment, "user_id": user.id, "role_id": role_id}}


def unassign_role(ctx: Ctx, args: Args) -> Json:
    _grants(ctx).unassign(args.opt_str("username"), args.int("role_id"))
    return {}


def list_user_roles(ctx: Ctx, args: Args) -> Json:
    users = _users(ctx)
    user = users.get_user(args.opt_str("username"))
    return {"roles": [role_json(r, users) for r in users.store.roles_of_user(user.id)]}


def list_role_users(ctx: Ctx, args: Args) -> Json:
    role_id = args.int("role_id")
    holders = _users(ctx).store.users_of_role(role_id)
    return {
        "assignments": [
            {"id": aid, "user_id": uid, "role_id": role_id, "username": name}
            for aid, uid, name in holders
        ]
    }


# -- tokens and protected aliases (modelyard) ------------------------------------------
def create_token(ctx: Ctx, args: Args) -> Json:
    """Create an access token for the caller (or, for an admin, a named user)."""
    days = args.raw("expires_in_days")
    if days is not None and not isinstance(days, (int, float)):
        raise InvalidParameterValue("expires_in_days must be a number of days.")
    new = _users(ctx).create_token(
        args.opt_str("username") or ctx.identity.user, args.opt_str("name"), days
    )
    return {"token": token_json(new.token), "secret": new.secret}


def list_tokens(ctx: Ctx, args: Args) -> Json:
    """A user's access tokens (names and expiry, never the secrets)."""
    users = _users(ctx)
    username = args.opt_str("username")
    if username is None and not users.permissions.is_admin(ctx.identity.user):
        username = ctx.identity.user
    return {"tokens": [token_json(t) for t in users.list_tokens(username)]}


def revoke_token(ctx: Ctx, args: Args) -> Json:
    """Revoke one of a user's access tokens by name."""
    _users(ctx).revoke_token(args.opt_str("username") or ctx.identity.user, args.opt_str("name"))
    return {}


def get_protected_aliases(ctx: Ctx, args: Args) -> Json:
    """The aliases of a registered model that only its managers may move."""
    name = args.str("name")
    ctx.services.registry.get_registered_model(name)
    return {"name": name, "aliases": list(_users(ctx).permissions.protected_aliases(name))}


def set_protected_aliases(ctx: Ctx, args: Args) -> Json:
    """Set which aliases of a registered model only its managers may move."""
    name = args.str("name")
    aliases = args.raw("aliases")
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise InvalidParameterValue("aliases must be a list of alias names (may be empty).")
    kept = _grants(ctx).set_protected_aliases(name, aliases)
    return {"name": name, "aliases": list(kept)}


# -- route tables -------------------------------------------------------------------------
ROUTES: list[RouteSpec] = [
    ("POST", "users/create", create_user),
    ("GET", "users/get", get_user),
    ("GET", "users/current", current_user),
    ("GET", "users/list", list_users),
    ("PATCH", "users/update-password", update_password),
    ("PATCH", "users/update-admin", update_admin),
    ("DELETE", "users/delete", delete_user),
    ("POST", "experiments/permissions/create", _EXP["create"]),
    ("GET", "experiments/permissions/get", _EXP["get"]),
    ("PATCH", "experiments/permissions/update", _EXP["update"]),
    ("DELETE", "experiments/permissions/delete", _EXP["delete"]),
    ("POST", "registered-models/permissions/create", _MODEL["create"]),
    ("GET", "registered-models/permissions/get", _MODEL["get"]),
    ("PATCH", "registered-models/permissions/update", _MODEL["update"]),
    ("DELETE", "registered-models/permissions/delete", _MODEL["delete"]),
    ("POST", "3.0/users/permissions/grant", grant),
    ("POST", "3.0/users/permissions/revoke", revoke),
    ("GET", "3.0/users/permissions/get", get_permission),
    ("GET", "3.0/users/permissions/list", list_permissions),
    ("GET", "3.0/users/current/permissions", current_permissions),
    ("GET", "3.0/users/roles/list", list_user_roles),
    ("POST", "3.0/roles/create", create_role),
    ("GET", "3.0/roles/get", get_role),
    ("GET", "3.0/roles/list", list_roles),
    ("PATCH", "3.0/roles/update", update_role),
    ("DELETE", "3.0/roles/delete", delete_role),
    ("POST", "3.0/roles/permissions/add", add_role_permission),
    ("DELETE", "3.0/roles/permissions/remove", remove_role_permission),
    ("GET", "3.0/roles/permissions/list", list_role_permissions),
    ("PATCH", "3.0/roles/permissions/update", update_role_permission),
    ("POST", "3.0/roles/assign", assign_role),
    ("DELETE", "3.0/roles/unassign", unassign_role),
    ("GET", "3.0/roles/users/list", list_role_users),
]

PREFIXES = ("/api/modelyard/v1", "/ajax-api/modelyard/v1")
_OWN: list[tuple[str, str, Any]] = [
    ("POST", "tokens/create", create_token),
    ("GET", "tokens/list", list_tokens),
    ("POST", "tokens/revoke", revoke_token),
    ("GET", "registered-models/protected-aliases", get_protected_aliases),
    ("POST", "registered-models/protected-aliases", set_protected_aliases),
]
RAW_ROUTES: list[BaseRoute] = [
    Route(f"{prefix}/{path}", api(handler), methods=[method])
    for prefix in PREFIXES
    for method, path, handler in _OWN
]

# Who may call what (see http/auth_rules.py). Grant routes need MANAGE on the
# resource; 3.x grant/revoke name it in two fields, so the handler checks it.
PERMISSIONS: dict[tuple[str, str], Rule] = {
    ("POST", "users/create"): ADMIN,
    ("GET", "users/get"): SELF,
    ("GET", "users/current"): USER,
    ("GET", "users/list"): ADMIN,
    ("PATCH", "users/update-password"): SELF,
    ("PATCH", "users/update-admin"): ADMIN,
    ("DELETE", "users/delete"): ADMIN,
    **{
        (method, f"experiments/permissions/{op}"): exp(MANAGE)
        for method, op in (
            ("POST", "create"),
            ("GET", "get"),
            ("PATCH", "update"),
            ("DELETE", "delete"),
        )
    },
    **{
        (method, f"registered-models/permissions/{op}"): model(MANAGE)
        for method, op in (
            ("POST", "create"),
            ("GET", "get"),
            ("PATCH", "update"),
            ("DELETE", "delete"),
        )
    },
    ("POST", "3.0/users/permissions/grant"): USER,  # MANAGE on the resource: handler
    ("POST", "3.0/users/permissions/revoke"): USER,  # MANAGE on the resource: handler
    ("GET", "3.0/users/permissions/get"): SELF,
    ("GET", "3.0/users/permissions/list"): SELF,
    ("GET", "3.0/users/current/permissions"): USER,
    ("GET", "3.0/users/roles/list"): SELF,
    **{(method, path): ADMIN for method, path, _ in ROUTES if path.startswith("3.0/roles/")},
    **{
        (method, f"{prefix}/tokens/{op}"): SELF
        for prefix in PREFIXES
        for method, op in (("POST", "create"), ("GET", "list"), ("POST", "revoke"))
    },
    **{
        (method, f"{prefix}/registered-models/protected-aliases"): model(need)
        for prefix in PREFIXES
        for method, need in (("GET", READ), ("POST", MANAGE))
    },
}
