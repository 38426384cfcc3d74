# Negative fixture: an undeclared variable and a module argument the module does not declare.
module "table" {
  source = "../../../../infra/modules/session-table"

  table_name = var.undeclared_table_name
  read_units = 5
}
